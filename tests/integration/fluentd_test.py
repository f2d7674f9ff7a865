"""The fluentd exporter of the built sre-agent and `sre-probe fluentd` against monitor_agent
stand-ins (tests/integration/fluentd_replay.py: the responses of exporters/fluentd/testdata/, one
server per worker on consecutive ports as Fluentd's `workers` gives them). Run by ctest (label
integration) with SRE_AGENT and SRE_PROBE set."""

import os
import subprocess
import unittest

from fluentd_replay import MonitorAgentReplay
from support import Agent, assert_probe_json, find, require_tool

# The families the exporter's issue asks for, as fluent-plugin-prometheus names them.
OUTPUT_FAMILIES = [
    "fluentd_output_status_buffer_queue_length",
    "fluentd_output_status_buffer_total_bytes",
    "fluentd_output_status_buffer_stage_length",
    "fluentd_output_status_buffer_stage_byte_size",
    "fluentd_output_status_buffer_queue_byte_size",
    "fluentd_output_status_buffer_available_space_ratio",
    "fluentd_output_status_retry_count",
    "fluentd_output_status_num_errors",
    "fluentd_output_status_emit_count",
    "fluentd_output_status_emit_records",
    "fluentd_output_status_write_count",
    "fluentd_output_status_rollback_count",
    "fluentd_output_status_flush_time_count",
    "fluentd_output_status_slow_flush_count",
    "fluentd_output_status_drop_oldest_chunk_count",
    "fluentd_output_status_retry_wait",
]

WORKERS = ["plugins_idle.json", "plugins_retrying.json", "plugins_worker2.json"]


def fluentd_check(name, url, extra=""):
    return (f"fluentd:\n  - check: {name}\n    interval: 200ms\n    timeout: 150ms\n"
            f"    urls: [\"{url}\"]\n" + extra)


class FluentdExporterTest(unittest.TestCase):

    def start_replay(self, responses):
        replay = MonitorAgentReplay(responses)
        self.addCleanup(replay.close)
        return replay

    def start_agent(self, config):
        agent = Agent(config)
        self.addCleanup(agent.stop)
        return agent


    def test_three_workers_with_plugin_names(self):
        replay = self.start_replay(WORKERS)
        agent = self.start_agent(fluentd_check("fluentd", replay.url, "    workers: 3\n"))
        samples = agent.samples_when(
            lambda s: sorted(find(s, "fluentd_up", check="fluentd")) == [1, 1, 1],
            "three workers up")
        for name in OUTPUT_FAMILIES:
            with self.subTest(family=name):
                series = [labels for n, labels, _ in samples if n == name]
                self.assertTrue(series, f"{name} is missing")
                for labels in series:
                    for label in ("plugin_id", "type", "check", "worker", "target"):
                        self.assertIn(label, labels)
        es = {"check": "fluentd", "target": replay.url, "plugin_id": "out_es",
              "type": "elasticsearch"}
        # Worker 1 is the documented retrying output: 4 errors, next try 16 s after the first.
        self.assertEqual(find(samples, "fluentd_output_status_retry_wait", worker="1", **es), [16])
        self.assertEqual(find(samples, "fluentd_output_status_num_errors", worker="1", **es), [4])
        self.assertEqual(find(samples, "fluentd_output_status_buffer_queue_byte_size",
                              worker="1", **es), [117])
        self.assertEqual(find(samples, "fluentd_output_status_retry_wait", worker="0", **es), [0])
        self.assertEqual(find(samples, "fluentd_output_status_buffer_stage_byte_size",
                              worker="2", **es), [2131])
        self.assertFalse(find(samples, "fluentd_output_status_emit_records", plugin_id="in_forward"),
                         "inputs are not reported by default")
        for worker in range(3):
            self.assertGreater(replay.workers[worker].requests, 0)

        promtool = require_tool(self, "promtool")
        result = subprocess.run([promtool, "check", "metrics"], input=agent.metrics(),
                                capture_output=True, text=True)
        # 3: lint problems only. The plugin's counter names lack _total and some end in _count;
        # they are kept for its dashboards (README, "Compatibility"), and nothing else may show.
        self.assertIn(result.returncode, (0, 3), result.stdout + result.stderr)
        for line in (result.stdout + result.stderr).splitlines():
            self.assertRegex(line, r"^fluentd_output_status_[a-z_]+ (counter metrics should have "
                                   r"\"_total\" suffix|non-histogram and non-summary metrics "
                                   r"should not have \"_count\" suffix)$")

    def test_a_failing_worker_does_not_affect_the_others(self):
        replay = self.start_replay(WORKERS)
        agent = self.start_agent(fluentd_check("fluentd", replay.url, "    workers: 3\n"))
        agent.samples_when(lambda s: sorted(find(s, "fluentd_up")) == [1, 1, 1], "all up")
        replay.stop(2)
        replay.serve(1, "plugins_idle.json")  # the retrying output recovered
        # While the server shuts down its socket still accepts without answering (a timeout);
        # once closed, connections are refused.
        samples = agent.samples_when(lambda s: find(s, "fluentd_failure_info", worker="2",
                                  reason="connection_refused") == [1] and
            find(s, "fluentd_output_status_retry_wait", worker="1") == [0],
            "worker 2 refusing and worker 1 recovered")
        self.assertEqual(find(samples, "fluentd_up", worker="2"), [0])
        self.assertEqual(find(samples, "fluentd_up", worker="0"), [1])
        self.assertEqual(find(samples, "fluentd_up", worker="1"), [1])
        self.assertFalse(find(samples, "fluentd_output_status_write_count", worker="2"))

    def test_object_ids_become_stable_ids(self):
        replay = self.start_replay(["plugins_object_ids.json"])
        agent = self.start_agent(fluentd_check("agg", replay.url, "    categories: []\n"))
        samples = agent.samples_when(lambda s: find(s, "fluentd_up", check="agg") == [1],
                                    "the aggregator up")
        ids = {labels["plugin_id"] for n, labels, _ in samples
               if n.startswith("fluentd_output_status_")}
        self.assertEqual(ids, {"monitor_agent#0", "forward#0", "in_tail_app", "stdout#0",
                               "forward#1", "forward#2", "out_file", "record_transformer#0"})
        self.assertEqual(find(samples, "fluentd_output_status_buffer_total_bytes",
                              plugin_id="forward#2"), [16384])
        # The unbuffered stdout output has no buffer series, only its counters.
        self.assertFalse(find(samples, "fluentd_output_status_buffer_queue_length",
                              plugin_id="stdout#0"))
        self.assertEqual(find(samples, "fluentd_output_status_emit_count", plugin_id="stdout#0"),
                         [88])

    def test_include_retry_off_has_no_retry_wait(self):
        # Fluentd 1.19.3 and later leave `retry` out unless include_retry is set.
        replay = self.start_replay(["plugins_no_retry.json"])
        agent = self.start_agent(fluentd_check("new", replay.url))
        samples = agent.samples_when(lambda s: find(s, "fluentd_up", check="new") == [1], "up")
        self.assertEqual(find(samples, "fluentd_output_status_retry_count", plugin_id="out_es"), [0])
        self.assertFalse(find(samples, "fluentd_output_status_retry_wait"))


class SreProbeFluentdTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.replay = MonitorAgentReplay(WORKERS)

    @classmethod
    def tearDownClass(cls):
        cls.replay.close()

    def probe(self, *args):
        return subprocess.run([os.environ["SRE_PROBE"], "fluentd", *args],
                              capture_output=True, text=True, timeout=30)

    def test_buffers_queue_and_retries_per_output(self):
        result = self.probe(self.replay.url, "--workers", "3")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("3 of 3 monitor_agents up, 3 plugins reported, 1 retrying", result.stdout)
        self.assertRegex(result.stdout, r"\n  worker1/out_es +ok .* queue 1 \(117 B\), stage 0 "
                                        r"\(0 B\), 99\.9% free, retrying: step 3, next "
                                        r"2025-05-29 16:05:52 \+0900 .*retry_count 4")
        self.assertRegex(result.stdout, r"\n  worker2/out_es +ok .* stage 1 \(2\.1 KiB\)")
        self.assertIn("retry_start: 2025-05-29 16:05:36 +0900", result.stdout)

    def test_json(self):
        result = self.probe(self.replay.url, "--workers", "3", "--output", "json")
        report = assert_probe_json(self, result.stdout)["results"][0]
        self.assertEqual((report["status"], report["exit_code"]), ("OK", 0))
        outputs = {o["subject"]: o for o in report["observations"]}
        self.assertEqual(outputs["worker1/out_es"]["figures"]["retry_count"], 4)
        self.assertEqual(outputs["worker1/out_es"]["details"]["type"], "elasticsearch")
        self.assertEqual(outputs["worker0"]["details"]["url"],
                         self.replay.url + "/api/plugins.json")

    def test_every_category_and_object_ids(self):
        replay = MonitorAgentReplay(["plugins_object_ids.json"])
        self.addCleanup(replay.close)
        result = self.probe(replay.url, "--all")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertRegex(result.stdout, r"\n  forward#2 +ok .* queue 2 \(16\.0 KiB\)")
        self.assertIn("fluentd_plugin_id: object:910", result.stdout)
        self.assertRegex(result.stdout, r"\n  stdout#0 +ok .* no buffer")

    def test_refused_is_critical(self):
        replay = MonitorAgentReplay(["plugins_idle.json"])
        url = replay.url
        replay.close()
        result = self.probe(url)
        self.assertEqual(result.returncode, 2, result.stdout)
        self.assertIn("connection_refused", result.stdout)


if __name__ == "__main__":
    unittest.main()
