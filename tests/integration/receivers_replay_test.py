"""The receiver stand-ins of receivers_replay.py tested by themselves: valid and invalid Slack
messages and PagerDuty events posted with urllib get the documented answers, scripted failures
come back with Retry-After, and PagerDuty's alerts open and close by dedup_key."""

import json
import threading
import unittest
import urllib.error
import urllib.request

from receivers_replay import FakePagerDuty, FakeSlack

KEY = "0123456789abcdef0123456789abcdef"


def post(url, body):
    """(status, headers, body text) of a POST; `body` is JSON-encoded unless it is bytes."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def trigger(dedup_key="abc", **payload):
    return {"routing_key": KEY, "event_action": "trigger", "dedup_key": dedup_key,
            "payload": {"summary": "shop is down", "source": "node1", "severity": "critical",
                        **payload}}


class FakeSlackTest(unittest.TestCase):

    def setUp(self):
        self.slack = FakeSlack()
        self.addCleanup(self.slack.close)

    def test_accepts_text_or_blocks_and_answers_ok_as_html(self):
        status, headers, body = post(self.slack.url, {"text": "hello &amp; bye"})
        self.assertEqual((status, body), (200, "ok"))
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*x*"}}]
        self.assertEqual(post(self.slack.url, {"blocks": blocks})[0], 200)
        attachment = {"color": "#d62d20", "blocks": blocks}
        self.assertEqual(post(self.slack.url, {"text": "t", "attachments": [attachment]})[0], 200)
        self.assertEqual(self.slack.wait_messages(3)[0], {"text": "hello &amp; bye"})
        self.assertTrue(self.slack.path.startswith("/services/T"))

    def test_refuses_as_slack_does(self):
        other = self.slack.url.rsplit("/", 1)[0] + "/wrong"
        self.assertEqual(post(other, {"text": "x"})[::2], (404, "no_service"))
        self.assertEqual(post(self.slack.url, b"{not json")[::2], (400, "invalid_payload"))
        self.assertEqual(post(self.slack.url, b"[1]")[::2], (400, "invalid_payload"))
        self.assertEqual(post(self.slack.url, {"channel": "#ops"})[::2], (400, "no_text"))
        too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
        self.assertEqual(post(self.slack.url, {"text": "t", "blocks": too_long})[::2],
                         (400, "invalid_blocks"))
        eleven = [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}]
        self.assertEqual(post(self.slack.url, {"text": "t", "attachments": [{"blocks": eleven}]}
                              )[::2], (400, "invalid_blocks"))
        self.assertEqual(self.slack.messages, [])
        self.assertEqual(len(self.slack.wait_requests(6)), 6)

    def test_scripted_rate_limit_errors_and_rejection(self):
        self.slack.fail_next(2, 429, retry_after=7)
        self.slack.fail_next(1, 503)
        self.slack.reject_next(1, "channel_not_found", 404)
        for _ in range(2):
            status, headers, body = post(self.slack.url, {"text": "x"})
            self.assertEqual((status, headers["Retry-After"], body), (429, "7", "rate_limited"))
        status, headers, _ = post(self.slack.url, {"text": "x"})
        self.assertEqual((status, headers["Retry-After"]), (503, None))
        self.assertEqual(post(self.slack.url, {"text": "x"})[::2], (404, "channel_not_found"))
        self.assertEqual(post(self.slack.url, {"text": "x"})[::2], (200, "ok"))
        self.assertEqual(len(self.slack.messages), 1)

    def test_records_concurrent_posts(self):
        statuses = []
        threads = [threading.Thread(
            target=lambda i=i: statuses.append(post(self.slack.url, {"text": str(i)})[0]))
            for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(statuses, [200] * 20)
        texts = sorted(int(m["text"]) for m in self.slack.wait_messages(20))
        self.assertEqual(texts, list(range(20)))


class FakePagerDutyTest(unittest.TestCase):

    def setUp(self):
        self.pd = FakePagerDuty()
        self.addCleanup(self.pd.close)

    def assert_invalid(self, event, error):
        status, headers, body = post(self.pd.url, event)
        self.assertEqual(status, 400, body)
        self.assertTrue(headers["Content-Type"].startswith("application/json"))
        answer = json.loads(body)
        self.assertEqual((answer["status"], answer["message"]),
                         ("invalid event", "Event object is invalid"))
        self.assertTrue(any(error in e for e in answer["errors"]), answer["errors"])

    def test_one_incident_opened_then_resolved(self):
        status, _, body = post(self.pd.url, trigger(component="web", custom_details={"v": "0"}))
        self.assertEqual(status, 202)
        self.assertEqual(json.loads(body), {"status": "success", "message": "Event processed",
                                            "dedup_key": "abc"})
        self.assertEqual(post(self.pd.url, trigger())[0], 202)  # same alert, no second one
        self.assertEqual(list(self.pd.open_incidents()), ["abc"])
        resolve = {"routing_key": KEY, "event_action": "resolve", "dedup_key": "abc"}
        self.assertEqual(post(self.pd.url, resolve)[0], 202)
        self.assertEqual(self.pd.open_incidents(), {})
        [incident] = self.pd.incidents_for("abc")
        self.assertEqual((incident["state"], incident["events"]),
                         ("resolved", ["trigger", "trigger", "resolve"]))
        self.assertEqual(post(self.pd.url, resolve)[0], 202)  # accepted, then dropped
        self.assertEqual(post(self.pd.url, trigger())[0], 202)  # a new alert after resolve
        self.assertEqual([i["state"] for i in self.pd.incidents_for("abc")],
                         ["resolved", "triggered"])
        self.assertEqual(len(self.pd.wait_events(5)), 5)

    def test_trigger_without_dedup_key_gets_one(self):
        event = trigger()
        del event["dedup_key"]
        status, _, body = post(self.pd.url, event)
        self.assertEqual(status, 202)
        self.assertEqual(list(self.pd.open_incidents()), [json.loads(body)["dedup_key"]])

    def test_invalid_events(self):
        self.assert_invalid(dict(trigger(), routing_key=KEY[:31]), "'routing_key'")
        self.assert_invalid(dict(trigger(), event_action="bogus"), "'event_action'")
        self.assert_invalid(dict(trigger(), dedup_key="k" * 256), "'dedup_key'")
        self.assert_invalid(trigger(severity="high"), "'payload.severity'")
        self.assert_invalid(trigger(summary=""), "'payload.summary'")
        self.assert_invalid(trigger(summary="s" * 1025), "'payload.summary'")
        self.assert_invalid(trigger(source=None), "'payload.source'")
        self.assert_invalid({"routing_key": KEY, "event_action": "trigger"}, "'payload'")
        self.assert_invalid({"routing_key": KEY, "event_action": "resolve"}, "'dedup_key'")
        self.assert_invalid(b"{oops", "Malformed JSON")
        self.assertEqual(self.pd.events, [])
        self.assertEqual(post(self.pd.url.replace("enqueue", "other"), trigger())[0], 404)

    def test_scripted_throttle_and_errors(self):
        self.pd.fail_next(1, 429, retry_after=3)
        self.pd.fail_next(1, 500)
        status, headers, _ = post(self.pd.url, trigger())
        self.assertEqual((status, headers["Retry-After"]), (429, "3"))
        self.assertEqual(post(self.pd.url, trigger())[0], 500)
        self.assertEqual(post(self.pd.url, trigger())[0], 202)
        self.assertEqual(len(self.pd.events), 1)
        self.assertEqual(len(self.pd.requests), 3)


if __name__ == "__main__":
    unittest.main()
