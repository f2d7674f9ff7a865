"""The Kubernetes API stand-in of kube_api.py tested by itself, over HTTPS with http.client: the
bearer token is required, lists filter by field and label selectors, and a watch from a list's
resourceVersion sees ADDED/MODIFIED/DELETED in order, bookmarks, 410 Expired after compaction,
abrupt drops and timeoutSeconds, as the "Kubernetes API Concepts" page describes."""

import http.client
import json
import ssl
import unittest
import urllib.parse

from kube_api import FakeKubeApi


class FakeKubeApiTest(unittest.TestCase):

    def setUp(self):
        self.api = FakeKubeApi()
        self.addCleanup(self.api.close)
        self.context = ssl.create_default_context(cafile=self.api.ca_file)

    def connect(self):
        """A connection to the stand-in, closed with the test."""
        port = urllib.parse.urlsplit(self.api.url).port
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=self.context,
                                                 timeout=10)
        self.addCleanup(connection.close)
        return connection

    def request(self, path, token=True, connection=None, **query):
        """The response to GET `path`?`query`, headers read, body not."""
        connection = connection or self.connect()
        headers = {"Authorization": f"Bearer {self.api.token}"} if token else {}
        connection.request("GET", f"{path}?{urllib.parse.urlencode(query)}", headers=headers)
        return connection.getresponse()

    def get_json(self, path, **query):
        response = self.request(path, **query)
        return response.status, json.loads(response.read())

    def events(self, response, count):
        """The next `count` watch events, parsed; each is one line."""
        return [json.loads(response.readline()) for _ in range(count)]

    def test_refuses_requests_without_the_token(self):
        response = self.request("/api/v1/pods", token=False)
        self.assertEqual(response.status, 401)
        self.assertEqual(json.loads(response.read()), {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
        with open(self.api.token_file) as f:
            self.assertEqual(f.read(), self.api.token)

    def test_lists_pods_filtered_by_node_labels_and_namespace(self):
        self.api.add_pod("web-0", node="node-a", labels={"app": "web", "tier": "front"})
        self.api.add_pod("web-1", node="node-b", labels={"app": "web"})
        self.api.add_pod("db-0", node="node-a", labels={"app": "db"}, namespace="data",
                         ready=False)
        status, pods = self.get_json("/api/v1/pods")
        self.assertEqual((status, pods["kind"], pods["apiVersion"]), (200, "PodList", "v1"))
        self.assertEqual(pods["metadata"]["resourceVersion"], str(self.api.resource_version))
        self.assertEqual(len(pods["items"]), 3)
        item = pods["items"][0]
        self.assertNotIn("kind", item)  # list items carry no type, as the real server sends
        self.assertEqual(item["spec"]["containers"][0]["ports"],
                         [{"protocol": "TCP", "containerPort": 8080, "name": "http"}])
        self.assertEqual(item["status"]["podIPs"], [{"ip": "127.0.0.1"}])

        def names(**query):
            status, pods = self.get_json(query.pop("path", "/api/v1/pods"), **query)
            self.assertEqual(status, 200)
            return sorted(p["metadata"]["name"] for p in pods["items"])

        self.assertEqual(names(fieldSelector="spec.nodeName=node-a"), ["db-0", "web-0"])
        self.assertEqual(names(fieldSelector="spec.nodeName=node-a,status.phase=Running",
                               labelSelector="app=web"), ["web-0"])
        self.assertEqual(names(labelSelector="app in (web,db),tier!=front"), ["db-0", "web-1"])
        self.assertEqual(names(path="/api/v1/namespaces/data/pods"), ["db-0"])
        ready = [c for c in self.get_json("/api/v1/namespaces/data/pods")[1]["items"][0]
                 ["status"]["conditions"] if c["type"] == "Ready"]
        self.assertEqual(ready[0]["status"], "False")
        status, error = self.get_json("/api/v1/pods", fieldSelector="spec.bogus=x")
        self.assertEqual((status, error["reason"]), (400, "BadRequest"))
        self.assertEqual(self.api.list_count(), 7)

    def test_watch_from_the_lists_version_sees_changes_in_order(self):
        self.api.add_pod("web-0", ip="127.0.0.2")
        _, pods = self.get_json("/api/v1/pods")
        start = pods["metadata"]["resourceVersion"]
        self.api.add_pod("web-1")  # before the watch: replayed from the history
        response = self.request("/api/v1/pods", watch="1", resourceVersion=start)
        self.assertEqual(response.status, 200)
        self.assertEqual(response.headers["Content-Type"], "application/json")
        self.assertEqual(response.headers["Transfer-Encoding"], "chunked")
        self.assertEqual(self.api.open_watches(), 1)
        self.api.update_pod("web-0", ready=False, annotations={"prometheus.io/port": "9100"})
        self.api.add_pod("other", node="node-b")
        self.api.delete_pod("web-1")
        events = self.events(response, 4)
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in events],
                         [("ADDED", "web-1"), ("MODIFIED", "web-0"), ("ADDED", "other"),
                          ("DELETED", "web-1")])
        versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
        self.assertEqual(versions, sorted(versions))
        self.assertGreater(versions[0], int(start))
        self.assertEqual(events[1]["object"]["kind"], "Pod")
        self.assertEqual(events[1]["object"]["metadata"]["annotations"],
                         {"prometheus.io/port": "9100"})
        self.assertEqual(self.api.watch_count(), 1)

    def test_selector_watch_sees_a_pod_leaving_as_deleted(self):
        self.api.add_pod("web-0", labels={"app": "web"})
        response = self.request("/api/v1/pods", watch="true", labelSelector="app=web")
        self.assertEqual(self.events(response, 1)[0]["type"], "ADDED")  # synthetic initial state
        self.api.update_pod("web-0", labels={"app": "other"})
        event = self.events(response, 1)[0]
        self.assertEqual(event["type"], "DELETED")
        self.assertEqual(event["object"]["metadata"]["labels"], {"app": "web"})
        self.assertEqual(event["object"]["metadata"]["resourceVersion"],
                         str(self.api.resource_version))

    def test_bookmark_carries_only_the_resource_version(self):
        response = self.request("/api/v1/pods", watch="1", allowWatchBookmarks="true",
                                resourceVersion=str(self.api.resource_version))
        plain = self.request("/api/v1/pods", watch="1", timeoutSeconds="0.3",
                             resourceVersion=str(self.api.resource_version))
        self.api.add_pod("web-0")
        rv = self.api.send_bookmark()
        self.assertEqual(self.events(response, 2)[1], {"type": "BOOKMARK", "object": {
            "kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": str(rv)}}})
        self.assertEqual([e["type"] for e in self.events(plain, 1)], ["ADDED"])
        self.assertEqual(plain.read(), b"")  # no bookmark for who did not ask

    def test_watch_from_a_compacted_version_gets_410_expired(self):
        self.api.add_pod("web-0")
        old = str(self.api.resource_version)
        self.api.add_pod("web-1")
        status, then = self.get_json("/api/v1/pods", resourceVersion=old,
                                     resourceVersionMatch="Exact")
        self.assertEqual((status, [p["metadata"]["name"] for p in then["items"]]),
                         (200, ["web-0"]))
        self.api.compact()
        response = self.request("/api/v1/pods", watch="1", resourceVersion=old)
        self.assertEqual(response.status, 200)  # the error comes as an event, not a status
        event = json.loads(response.read())
        self.assertEqual(event["type"], "ERROR")
        self.assertEqual({k: event["object"][k] for k in ("kind", "status", "reason", "code")},
                         {"kind": "Status", "status": "Failure", "reason": "Expired",
                          "code": 410})
        self.assertIn("too old resource version", event["object"]["message"])
        status, error = self.get_json("/api/v1/pods", resourceVersion=old,
                                      resourceVersionMatch="Exact")
        self.assertEqual((status, error["reason"]), (410, "Expired"))
        status, pods = self.get_json("/api/v1/pods", resourceVersion=old)  # not older than
        self.assertEqual((status, len(pods["items"])), (200, 2))

    def test_drop_watches_ends_the_stream_without_the_last_chunk(self):
        response = self.request("/api/v1/pods", watch="1")
        self.api.wait_open_watches(1)
        self.api.drop_watches()
        with self.assertRaises((http.client.IncompleteRead, ConnectionError, ssl.SSLError)):
            response.read()
        self.api.wait_open_watches(0)

    def test_a_client_hanging_up_closes_its_watch(self):
        connection = self.connect()
        self.request("/api/v1/pods", connection=connection, watch="1")
        self.api.wait_open_watches(1)
        connection.close()
        self.api.wait_open_watches(0)

    def test_timeout_seconds_ends_the_stream_cleanly(self):
        self.api.add_pod("web-0")
        response = self.request("/api/v1/pods", watch="1", timeoutSeconds="0.2")
        body = response.read()  # returns only because the server sent the last chunk
        self.assertEqual([json.loads(line)["type"] for line in body.splitlines()], ["ADDED"])
        self.api.wait_open_watches(0)

    def test_scripted_failures_and_request_log(self):
        self.api.fail_next(2, status=503)
        for _ in range(2):
            status, error = self.get_json("/api/v1/pods")
            self.assertEqual((status, error["reason"]), (503, "ServiceUnavailable"))
        self.assertEqual(self.get_json("/api/v1/pods", fieldSelector="spec.nodeName=n")[0], 200)
        requests = self.api.wait_requests(lambda r: len(r) >= 3)
        self.assertEqual(requests[2], ("GET", "/api/v1/pods", {"fieldSelector": "spec.nodeName=n"}))
        self.assertEqual(self.get_json("/api/v1/nodes")[0], 404)


if __name__ == "__main__":
    unittest.main()
