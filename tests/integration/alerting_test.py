"""Alerting end to end: sre-agent's rules fire and resolve at a real Alertmanager (Debian's
prometheus-alertmanager on a loopback port), and the delivery guarantees hold through the faults
issue 7 lists: a receiver down, the agent SIGKILLed before delivery, a receiver answering 400,
a damaged spool."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from alertmanager import Alertmanager, Port, WebhookSink, elapsed_until
from receivers_replay import FakePagerDuty, FakeSlack
from support import (Agent, assert_probe_json, find, free_port, parse_metrics, require_tool,
                     wait_for)

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs",
                       "examples", "alerting.yaml")


def rule_config(targets, receivers, spool, for_="0s"):
    """TCP checks of `targets` every 100 ms, TargetDown on each, and the given receivers."""
    checks = "".join(f"  - check: c{i}\n    target: {t}\n    interval: 100ms\n    timeout: 50ms\n"
                     for i, t in enumerate(targets))
    return f"""tcp:
{checks}
alerting:
  rules:
    - alert: TargetDown
      expr: probe_success < 1
      for: {for_}
      labels: {{severity: critical}}
      annotations: {{summary: "{{{{ $labels.target }}}} is down"}}
  receivers:
{receivers}
  spool:
    path: {spool}
"""


def am_receiver(url):
    return f"    - {{name: am, type: alertmanager, urls: [\"{url}\"]}}\n"


def webhook_receiver(url):
    return f"    - {{name: hook, type: webhook, url: \"{url}\"}}\n"


def value(agent, name, **labels):
    values = find(parse_metrics(agent.metrics()), name, **labels)
    return values[0] if values else None


class AlertingTest(unittest.TestCase):
    def setUp(self):
        self.binary = require_tool(self, "prometheus-alertmanager")
        self.dir = tempfile.mkdtemp()
        self.spool = os.path.join(self.dir, "state", "alerts.spool")
        self.agents = []

    def tearDown(self):
        for agent in self.agents:
            agent.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)

    def agent(self, config, env=None):
        agent = Agent(config, env=env)
        self.agents.append(agent)
        return agent

    def kill(self, agent):
        agent.stop(signal.SIGKILL)
        self.agents.remove(agent)

    def manager(self, **kwargs):
        manager = Alertmanager(self.binary, **kwargs)
        self.addCleanup(manager.close)
        return manager

    # configs/examples/alerting.yaml as shipped: the port closes, Alertmanager gets TargetDown;
    # it opens again, Alertmanager shows it resolved.
    def test_example_config_fires_and_resolves_at_alertmanager(self):
        manager = self.manager()
        port = Port()
        port.open()
        self.addCleanup(port.close)
        with open(EXAMPLE) as f:
            agent = self.agent(f.read(), env={"SRE_TARGET": port.address,
                                              "ALERTMANAGER_URL": manager.url,
                                              "STATE_DIRECTORY": os.path.join(self.dir, "state")})
        agent.wait_ready()
        self.assertEqual(manager.alerts(), [])

        port.close()
        fired = elapsed_until(lambda: manager.alerts(alertname="TargetDown"), 15,
                              "TargetDown at Alertmanager")
        alert = manager.alerts(alertname="TargetDown")[0]
        self.assertEqual(alert["labels"]["severity"], "critical")
        self.assertEqual(alert["labels"]["check"], "example")
        self.assertEqual(alert["annotations"]["summary"],
                         f"example: {port.address} does not accept connections")
        self.assertEqual(value(agent, "sre_agent_alerts", alertname="TargetDown",
                               alertstate="firing"), 1)
        # `for: 2s` on a 1s check: at least two seconds, well under ten.
        print(f"\nfault to alert at Alertmanager: {fired:.2f}s (for: 2s, interval 1s)")
        self.assertGreaterEqual(fired, 2)

        port.open()
        resolved = elapsed_until(lambda: not manager.alerts(alertname="TargetDown"), 15,
                                 "TargetDown resolved at Alertmanager")
        print(f"recovery to resolved at Alertmanager: {resolved:.2f}s")
        self.assertEqual(value(agent, "sre_agent_alerts", alertname="TargetDown"), None)
        self.assertEqual(value(agent, "sre_agent_notification_queue_length", receiver="alertmanager"), 0)
        self.assertGreaterEqual(value(agent, "sre_agent_notifications_total",
                                      receiver="alertmanager", result="success"), 2)

    def test_alertmanager_down_when_the_alert_fires_gets_it_when_back(self):
        manager = self.manager(start=False)
        agent = self.agent(rule_config(["127.0.0.1:1"], am_receiver(manager.url), self.spool))
        agent.samples_when(lambda s: find(s, "sre_agent_notifications_total", receiver="am",
                                          result="failed") not in ([], [0.0]),
                           "a failed delivery while Alertmanager is down")
        self.assertEqual(value(agent, "sre_agent_notification_queue_length", receiver="am"), 1)
        manager.start()
        wait_for(lambda: manager.alerts(alertname="TargetDown"), timeout=15,
                 what="TargetDown at Alertmanager once it is up")
        agent.samples_when(lambda s: find(s, "sre_agent_notification_queue_length",
                                          receiver="am") == [0.0], "the queue to empty")

    # An HA pair with one member down: the other one taking the alert is delivery.
    def test_one_alertmanager_of_an_ha_pair_down_still_delivers(self):
        manager = self.manager()
        receiver = f"    - {{name: am, type: alertmanager, urls: [\"http://127.0.0.1:1\", \"{manager.url}\"]}}\n"
        agent = self.agent(rule_config(["127.0.0.1:2"], receiver, self.spool))
        wait_for(lambda: manager.alerts(alertname="TargetDown"), timeout=15,
                 what="TargetDown at the Alertmanager that is up")
        agent.samples_when(lambda s: find(s, "sre_agent_notifications_total", receiver="am",
                                          result="success") == [1.0], "one delivery")
        self.assertEqual(value(agent, "sre_agent_notifications_total", receiver="am",
                               result="failed"), 0)

    # Killed between firing and delivery, restarted with the target healthy again (so nothing
    # fires anew): the spooled notification is what arrives, once.
    def test_sigkill_before_delivery_then_restart_delivers_once(self):
        manager = self.manager(start=False)
        hook = WebhookSink(start=False)
        self.addCleanup(hook.stop)
        port = Port()
        receivers = am_receiver(manager.url) + webhook_receiver(hook.url)
        agent = self.agent(rule_config([port.address], receivers, self.spool))
        agent.samples_when(lambda s: find(s, "sre_agent_notification_queue_length") == [1.0, 1.0],
                           "the alert queued for both receivers")
        self.kill(agent)

        manager.start()
        hook.start()
        port.open()
        self.addCleanup(port.close)
        agent = self.agent(rule_config([port.address], receivers, self.spool))
        wait_for(lambda: any("not yet delivered" in line for line in agent.lines),
                 what="the agent to say what the spool held")
        wait_for(lambda: manager.alerts(alertname="TargetDown"), timeout=15,
                 what="the spooled alert at Alertmanager")
        agent.samples_when(lambda s: find(s, "sre_agent_notification_queue_length") == [0.0, 0.0],
                           "both queues to empty")
        self.assertEqual(value(agent, "sre_agent_notification_spool_recovered"), 2)
        firing = hook.alerts(alertname="TargetDown")
        self.assertEqual(len(firing), 1, firing)
        self.assertEqual(firing[0]["status"], "firing")
        self.assertEqual(firing[0]["labels"]["target"], port.address)

    def test_a_receiver_answering_400_is_counted_and_not_retried(self):
        hook = WebhookSink(script=[400])
        self.addCleanup(hook.stop)
        agent = self.agent(rule_config(["127.0.0.1:1"], webhook_receiver(hook.url), self.spool))
        agent.samples_when(lambda s: find(s, "sre_agent_notifications_dropped_total",
                                          receiver="hook", reason="rejected") == [1.0],
                           "the rejected notification counted as dropped")
        self.assertEqual(value(agent, "sre_agent_notifications_total", receiver="hook",
                               result="rejected"), 1)
        self.assertEqual(value(agent, "sre_agent_notification_queue_length", receiver="hook"), 0)
        self.assertEqual(len(hook.requests), 1)
        wait_for(lambda: any("receiver rejected" in line for line in agent.lines),
                 what="the rejection in the log")
        line = next(line for line in agent.lines if "receiver rejected" in line)
        self.assertIn("400", line)
        self.assertNotIn(hook.url, "".join(agent.lines))  # webhook URLs are secrets

    # A reload may change rules and receivers, not where the spool is: that is refused, and the
    # running configuration goes on.
    def test_a_reload_that_moves_the_spool_is_refused(self):
        hook = WebhookSink()
        self.addCleanup(hook.stop)
        config = rule_config(["127.0.0.1:1"], webhook_receiver(hook.url), self.spool)
        agent = self.agent(config)
        agent.wait_ready()
        agent.write_config(config.replace(self.spool, self.spool + ".moved"))
        agent.process.send_signal(signal.SIGHUP)
        agent.samples_when(lambda s: find(s, "sre_agent_config_last_reload_successful") == [0.0],
                           "the reload to be refused")
        wait_for(lambda: any("spool.path cannot change on reload" in line
                             for line in agent.lines), what="the reason in the log")
        wait_for(lambda: hook.alerts(alertname="TargetDown"), what="alerting still running")

    # Routes by label matchers, Alertmanager's way: the first match takes it, `continue` goes on.
    def test_routes_send_each_alert_to_the_receivers_its_labels_match(self):
        critical, everyone = WebhookSink(), WebhookSink()
        self.addCleanup(critical.stop)
        self.addCleanup(everyone.stop)
        config = rule_config(["127.0.0.1:1", "127.0.0.1:2"],
                             f"    - {{name: critical, type: webhook, url: \"{critical.url}\"}}\n"
                             f"    - {{name: everyone, type: webhook, url: \"{everyone.url}\"}}\n",
                             self.spool)
        config = config.replace("  spool:", """  routes:
    - {match: '{target="127.0.0.1:1"}', receivers: [critical], continue: true}
    - {match: '{target=~"127.0.0.1:.*"}', receivers: [everyone]}
    - {receivers: [critical]}
  spool:""")
        self.agent(config)
        wait_for(lambda: len(everyone.alerts()) == 2, what="both alerts at the catch-all")
        self.assertEqual([a["labels"]["target"] for a in critical.alerts()], ["127.0.0.1:1"])
        payload = everyone.accepted[0]
        self.assertEqual(payload["version"], "4")
        self.assertEqual(payload["receiver"], "everyone")

    # sre-probe alert test: through the receiver of the agent's own config, and what came back.
    def test_sre_probe_alert_test_says_what_the_receiver_answered(self):
        manager = self.manager()
        hook, sink = WebhookSink(script=[400]), WebhookSink()
        self.addCleanup(hook.stop)
        self.addCleanup(sink.stop)
        config = os.path.join(self.dir, "agent.yaml")
        with open(config, "w") as f:
            f.write(rule_config(["127.0.0.1:1"], am_receiver(manager.url) +
                                webhook_receiver(hook.url) +
                                f"    - {{name: sink, type: webhook, url: \"{sink.url}\"}}\n" +
                                "    - {name: down, type: alertmanager, urls: [\"http://127.0.0.1:1\"]}\n",
                                self.spool))

        def probe(*args):
            return subprocess.run([os.environ["SRE_PROBE"], "alert", *args, "--config", config],
                                  capture_output=True, text=True, timeout=30)

        result = probe("test", "am", "--output", "json")
        self.assertEqual(result.returncode, 0, result.stderr)
        report = assert_probe_json(self, result.stdout)["results"][0]
        self.assertEqual((report["check"], report["target"], report["status"]),
                         ("am", "alertmanager", "OK"))
        self.assertIn("Alertmanager answered HTTP 200", report["message"])

        # Firing, then resolved (so a PagerDuty test leaves no incident open): what a receiver
        # that records them got.
        self.assertEqual(probe("test", "sink").returncode, 0)
        self.assertEqual([a["status"] for a in sink.alerts(alertname="SreProbeTest")],
                         ["firing", "resolved"])

        result = probe("test", "hook")
        self.assertEqual(result.returncode, 2)
        self.assertIn("400", result.stdout)
        self.assertNotIn(hook.url, result.stdout + result.stderr)

        result = probe("test", "down")
        self.assertEqual(result.returncode, 2)
        self.assertIn("connection_refused", result.stdout)

        result = probe("test", "nope")
        self.assertEqual(result.returncode, 3)
        self.assertIn('no receiver named "nope"', result.stderr)
        self.assertIn("am, hook, sink, down", result.stderr)

    # Slack and PagerDuty (stand-ins that check the documented fields): a 429 with Retry-After
    # and a 503 are retried; the alert fires and resolves at both, PagerDuty with one dedup_key.
    def test_slack_and_pagerduty_get_fired_and_resolved_through_429_and_503(self):
        slack, pagerduty = FakeSlack(), FakePagerDuty()
        self.addCleanup(slack.close)
        self.addCleanup(pagerduty.close)
        slack.fail_next(1, status=429, retry_after=1)
        pagerduty.fail_next(1, status=503)
        secrets = os.path.join(self.dir, "secrets")
        os.makedirs(secrets)
        with open(os.path.join(secrets, "slack-url"), "w") as f:
            f.write(slack.url + "\n")
        with open(os.path.join(secrets, "pagerduty-key"), "w") as f:
            f.write("0123456789abcdef0123456789abcdef\n")
        port = Port()
        self.addCleanup(port.close)
        receivers = (
            f"    - {{name: chat, type: slack, url_file: {secrets}/slack-url, channel: '#ops'}}\n"
            f"    - {{name: pager, type: pagerduty, url: \"{pagerduty.url}\",\n"
            f"        routing_key_file: {secrets}/pagerduty-key}}\n")
        agent = self.agent(rule_config([port.address], receivers, self.spool))
        messages = slack.wait_messages(1, timeout=15)
        events = pagerduty.wait_events(1, timeout=15)
        self.assertIn("TargetDown", messages[0]["text"])
        self.assertEqual(messages[0]["channel"], "#ops")
        self.assertEqual(events[0]["event_action"], "trigger")
        self.assertEqual(events[0]["payload"]["severity"], "critical")
        self.assertEqual(len(pagerduty.open_incidents()), 1)
        self.assertEqual(len(slack.requests), 2)  # the 429, then the message a second later
        self.assertEqual(len(pagerduty.requests), 2)  # the 503, then the event

        port.open()
        slack.wait_messages(2, timeout=15)
        events = pagerduty.wait_events(2, timeout=15)
        self.assertEqual(events[1]["event_action"], "resolve")
        self.assertEqual(events[1]["dedup_key"], events[0]["dedup_key"])
        self.assertEqual(pagerduty.open_incidents(), {})
        agent.samples_when(lambda s: find(s, "sre_agent_notifications_total", result="success")
                           == [2.0, 2.0], "two deliveries to each")
        self.assertEqual(find(parse_metrics(agent.metrics()), "sre_agent_notifications_total",
                              result="failed"), [1.0, 1.0])
        log = "".join(agent.lines)
        self.assertNotIn(slack.url, log)
        self.assertNotIn("0123456789abcdef0123456789abcdef", log)

    # Three alerts spooled, then the file damaged three ways: the agent starts each time, says
    # so, and delivers what could be read.
    def test_a_damaged_spool_is_reported_and_what_survives_is_delivered(self):
        targets = ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]
        for damage in ("truncate", "flip", "garbage"):
            with self.subTest(damage=damage):
                if os.path.exists(self.spool):
                    os.remove(self.spool)
                hook = WebhookSink(start=False)
                agent = self.agent(rule_config(targets, webhook_receiver(hook.url), self.spool))
                agent.samples_when(lambda s: find(s, "sre_agent_notification_queue_length",
                                                  receiver="hook") == [3.0], "three queued")
                self.kill(agent)
                size = os.path.getsize(self.spool)
                with open(self.spool, "r+b") as f:
                    if damage == "truncate":
                        f.truncate(size - 5)  # the last record torn
                    elif damage == "flip":
                        f.seek(size // 2)
                        byte = f.read(1)
                        f.seek(size // 2)
                        f.write(bytes([byte[0] ^ 0xFF]))
                    else:
                        f.seek(0, os.SEEK_END)
                        f.write(os.urandom(300))
                hook.start()
                # The targets are down still, but with `for: 1h` nothing fires anew: every
                # delivery comes from the spool.
                agent = self.agent(rule_config(targets, webhook_receiver(hook.url), self.spool,
                                               for_="1h"))
                agent.samples_when(lambda s: find(s, "sre_agent_notification_queue_length",
                                                  receiver="hook") == [0.0], "the queue to empty")
                recovered = value(agent, "sre_agent_notification_spool_recovered")
                skipped = value(agent, "sre_agent_notification_spool_corrupt_bytes")
                self.assertEqual(recovered, 3 if damage == "garbage" else 2)
                self.assertGreater(skipped, 0)
                self.assertTrue(any("spool was damaged" in line for line in agent.lines),
                                "".join(agent.lines))
                self.assertEqual(len(hook.alerts(alertname="TargetDown")), recovered)
                self.kill(agent)
                hook.stop()


if __name__ == "__main__":
    unittest.main()
