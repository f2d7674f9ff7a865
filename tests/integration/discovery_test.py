"""Pod discovery (issue 11): the agent lists and watches this node's pods on a local stand-in of
the Kubernetes API (kube_api.py), and runs a check for each `sre-agent.io/php-fpm` and
`sre-agent.io/fluentd` annotation against a real php-fpm and a Fluentd replay, labelled with the
pod. Checks come and go with the pods; a dropped stream resumes; a 410 Gone lists again."""

import unittest

from fluentd_replay import MonitorAgentReplay
from kube_api import FakeKubeApi
from php_fpm import Pool, PhpFpm, php_fpm_binary
from support import Agent, find, parse_metrics, wait_for


def samples(agent):
    return parse_metrics(agent.metrics())


def series(current, name, **labels):
    """[(labels, value)] of the samples named `name` whose labels include `labels`."""
    return [(l, v) for n, l, v in current
            if n == name and all(l.get(k) == x for k, x in labels.items())]


def check_success(agent, exporter, check):
    """The last run's success of a check, or None when the agent does not run it."""
    found = find(samples(agent), "sre_agent_collect_success", exporter=exporter, check=check)
    return found[0] if found else None


class PodDiscoveryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fpm = PhpFpm(php_fpm_binary(cls), [Pool("www", "tcp", children=1)])
        cls.fpm_port = cls.fpm.pools[0].address[1]
        cls.fluentd = MonitorAgentReplay(["plugins_idle.json"])
        cls.api = FakeKubeApi()

    @classmethod
    def tearDownClass(cls):
        cls.api.close()
        cls.fluentd.close()
        cls.fpm.close()

    def setUp(self):
        self.pods = []
        self.start_agent()

    def start_agent(self):
        self.first_request = len(self.api.requests)  # the ones before are earlier agents'
        self.agent = Agent("agent:\n  interval: 500ms\ndiscovery:\n  node_name: node-a\n" +
                           self.api.agent_config())

    def tearDown(self):
        for namespace, name in self.pods:
            if (namespace, name) in self.api.pods:
                self.api.delete_pod(name, namespace)
        self.agent.stop()

    def wait_watching(self):
        """Until this agent has listed and opened its watch."""
        self.api.wait_requests(lambda requests: any(
            query.get("watch") == "1" for _, _, query in requests[self.first_request:]))

    def add_pod(self, name, namespace="shop", **kwargs):
        self.api.add_pod(name, namespace, **kwargs)
        self.pods.append((namespace, name))

    def php_pod(self, name, **kwargs):
        self.add_pod(name, annotations={"sre-agent.io/php-fpm": f"tcp://:{self.fpm_port}/status"},
                     containers=[{"name": "sidecar", "ports": []},
                                 {"name": "php", "ports": [{"containerPort": self.fpm_port}]}],
                     **kwargs)

    def test_annotated_pods_on_this_node_become_checks_labelled_with_the_pod(self):
        self.php_pod("web-1")
        self.add_pod("logs-1", annotations={"sre-agent.io/fluentd": self.fluentd.url})
        self.add_pod("web-elsewhere", node="node-b",
                     annotations={"sre-agent.io/php-fpm": f"tcp://:{self.fpm_port}/status"})
        self.add_pod("plain", annotations={})

        wait_for(lambda: check_success(self.agent, "php_fpm", "shop/web-1") == 1,
                 what="the php-fpm pod's check to succeed")
        wait_for(lambda: check_success(self.agent, "fluentd", "shop/logs-1") == 1,
                 what="the fluentd pod's check to succeed")
        current = samples(self.agent)
        up = series(current, "phpfpm_up", check="shop/web-1")
        self.assertEqual(len(up), 1, up)
        labels = up[0][0]
        self.assertEqual((labels["k8s_namespace"], labels["k8s_pod"], labels["k8s_container"]),
                         ("shop", "web-1", "php"))
        self.assertEqual(labels["scrape_uri"], f"tcp://127.0.0.1:{self.fpm_port}/status")
        self.assertTrue(find(current, "fluentd_output_status_buffer_queue_length",
                             check="shop/logs-1", k8s_pod="logs-1"))
        self.assertFalse(find(current, "sre_agent_collect_success", check="shop/web-elsewhere"))
        # The agent's own series are refreshed every second.
        wait_for(lambda: find(samples(self.agent), "sre_agent_discovered_checks",
                              exporter="php_fpm") == [1], what="sre_agent_discovered_checks")
        # Only this node's pods were asked for.
        lists = [q for _, _, q in self.api.requests if q.get("watch") not in ("1", "true")]
        self.assertEqual(lists[0].get("fieldSelector"), "spec.nodeName=node-a")

    def test_checks_follow_the_pods(self):
        self.php_pod("web-2", ready=False)
        self.php_pod("web-3")
        wait_for(lambda: check_success(self.agent, "php_fpm", "shop/web-3") == 1,
                 what="web-3's check")
        self.assertIsNone(check_success(self.agent, "php_fpm", "shop/web-2"))  # not ready yet
        self.api.update_pod("web-2", "shop", ready=True)
        wait_for(lambda: check_success(self.agent, "php_fpm", "shop/web-2") == 1,
                 what="web-2's check once ready")
        self.api.delete_pod("web-3", "shop")
        wait_for(lambda: check_success(self.agent, "php_fpm", "shop/web-3") is None,
                 what="web-3's check to go with the pod")
        self.assertFalse(find(samples(self.agent), "phpfpm_up", check="shop/web-3"))

    def test_a_dropped_stream_resumes_and_misses_nothing(self):
        self.wait_watching()
        lists_before, watches_before = self.api.list_count(), self.api.watch_count()
        self.api.drop_watches()
        self.php_pod("web-4")  # while the agent is reconnecting
        wait_for(lambda: check_success(self.agent, "php_fpm", "shop/web-4") == 1,
                 what="the pod added during the outage")
        # Resumed from its resourceVersion with a new watch, not listed again.
        self.assertEqual(self.api.list_count(), lists_before)
        self.assertGreater(self.api.watch_count(), watches_before)

    def test_410_gone_lists_again(self):
        self.php_pod("web-5")
        wait_for(lambda: check_success(self.agent, "php_fpm", "shop/web-5") == 1, what="web-5")
        lists_before = self.api.list_count()
        # The agent's resourceVersion is compacted away while it is disconnected.
        self.api.compact()
        self.api.drop_watches()
        self.api.delete_pod("web-5", "shop")
        self.php_pod("web-6")
        self.api.compact()
        wait_for(lambda: check_success(self.agent, "php_fpm", "shop/web-6") == 1,
                 what="the pod added before the relist")
        wait_for(lambda: check_success(self.agent, "php_fpm", "shop/web-5") is None,
                 what="the pod deleted before the relist to go")
        self.assertGreater(self.api.list_count(), lists_before)
        wait_for(lambda: find(samples(self.agent), "sre_agent_kubernetes_relists_total",
                              watch="pods")[0] >= 1, what="sre_agent_kubernetes_relists_total")

    def test_api_errors_are_retried(self):
        self.agent.stop()
        self.api.fail_next(2, status=503)
        self.start_agent()
        self.php_pod("web-7")
        wait_for(lambda: check_success(self.agent, "php_fpm", "shop/web-7") == 1, timeout=15,
                 what="the check after two failed lists")
        lists = [q for _, _, q in self.api.requests[self.first_request:]
                 if q.get("watch") not in ("1", "true")]
        self.assertGreaterEqual(len(lists), 3)  # two answered 503, then one that worked
        wait_for(lambda: find(samples(self.agent), "sre_agent_kubernetes_watch_errors_total",
                              watch="pods")[0] >= 2, what="the failed lists counted")

if __name__ == "__main__":
    unittest.main()
