"""The php_fpm exporter of the built sre-agent and `sre-probe php-fpm` against a real php-fpm 8.2
(tests/integration/php_fpm.py starts it): a unix-socket pool, a TCP pool with pm.status_listen,
the TCP pool saturated, and pools found by socket_glob as they come and go. Run by ctest (label
integration) with SRE_AGENT and SRE_PROBE set."""

import os
import subprocess
import tempfile
import unittest

from php_fpm import BusyWorkers, PhpFpm, Pool, php_fpm_binary, status_json
from support import Agent, assert_probe_json, find, require_tool


def php_fpm_check(name, uris, extra=""):
    lines = [f"  - check: {name}", "    interval: 200ms", "    timeout: 150ms", "    scrape_uri:"]
    lines += [f"      - \"{uri}\"" for uri in uris]
    return "\n".join(lines) + "\n" + extra


class PhpFpmExporterTest(unittest.TestCase):

    def setUp(self):
        self.fpm = PhpFpm(php_fpm_binary(self), [
            Pool("www", children=2),
            Pool("tcp", "tcp", children=2, status_listen=True),
        ])
        self.addCleanup(self.fpm.close)
        self.www, self.tcp = self.fpm.pools

    def start_agent(self, config):
        agent = Agent(config)
        self.addCleanup(agent.stop)
        return agent


    def test_every_pool_with_hipages_names(self):
        uris = [self.www.scrape_uri, self.tcp.scrape_uri, self.tcp.status_scrape_uri]
        agent = self.start_agent("php_fpm:\n" + php_fpm_check("fpm", uris))
        samples = agent.samples_when(
            lambda s: sorted(find(s, "phpfpm_up", check="fpm")) == [1, 1, 1], "three pools up")
        for pool, uri in ((self.www, self.www.scrape_uri), (self.tcp, self.tcp.scrape_uri),
                          (self.tcp, self.tcp.status_scrape_uri)):
            with self.subTest(uri=uri):
                labels = {"check": "fpm", "pool": pool.name, "scrape_uri": uri}
                self.assertEqual(find(samples, "phpfpm_total_processes", **labels), [2])
                self.assertEqual(find(samples, "phpfpm_scrape_failures", **labels), [0])
                self.assertEqual(sum(find(samples, "phpfpm_processes_by_state", **labels)), 2)
                self.assertGreater(find(samples, "phpfpm_accepted_connections", **labels)[0], 0)
        # php-fpm measures the listen queue of TCP listeners only: 4096 (the kernel's maximum,
        # php-fpm's default backlog) for TCP, 0 for the unix socket.
        self.assertEqual(find(samples, "phpfpm_listen_queue_length", pool="tcp"), [4096, 4096])
        self.assertEqual(find(samples, "phpfpm_listen_queue_length", pool="www"), [0])
        self.assertFalse([n for n, _, _ in samples if n.startswith("phpfpm_process_")],
                         "per-process families are off by default")

        promtool = require_tool(self, "promtool")
        result = subprocess.run([promtool, "check", "metrics"], input=agent.metrics(),
                                capture_output=True, text=True)
        self.assertIn(result.returncode, (0, 3), result.stdout + result.stderr)
        self.assertNotIn("error", (result.stdout + result.stderr).lower())

    def test_status_listen_sees_the_saturated_pool(self):
        agent = self.start_agent("php_fpm:\n" + php_fpm_check(
            "fpm", [self.tcp.scrape_uri, self.tcp.status_scrape_uri]))
        with BusyWorkers(self.tcp.address, 2, self.fpm.slow_script, queued=3, ms=8000) as busy:
            busy.wait_all_busy(self.tcp)
            own = {"scrape_uri": self.tcp.scrape_uri}
            side = {"scrape_uri": self.tcp.status_scrape_uri}
            # php-fpm refreshes the listen queue figure once a second.
            samples = agent.samples_when(lambda s: find(s, "phpfpm_listen_queue", **side) and
                find(s, "phpfpm_listen_queue", **side)[0] > 0 and
                find(s, "phpfpm_up", **own) == [0],
                "a listen queue through status_listen and the pool's own port down")
            self.assertEqual(find(samples, "phpfpm_up", **side), [1])
            self.assertEqual(find(samples, "phpfpm_active_processes", **side), [2])
            self.assertEqual(find(samples, "phpfpm_idle_processes", **side), [0])
            # The pool's own port cannot answer: its workers are busy and the request queues.
            self.assertEqual(find(samples, "phpfpm_failure_info", reason="timeout", **own), [1])

    def test_socket_glob_follows_pools(self):
        sockets = tempfile.mkdtemp()
        os.chmod(sockets, 0o755)
        self.addCleanup(os.rmdir, sockets)
        agent = self.start_agent(
            "php_fpm:\n  - check: found\n    interval: 200ms\n    timeout: 150ms\n"
            f"    socket_glob: {sockets}/*.sock\n")
        late = PhpFpm(php_fpm_binary(self), [Pool("late", socket_dir=sockets)])
        uri = f"unix://{sockets}/late.sock;/status"
        agent.samples_when(lambda s: find(s, "phpfpm_up", pool="late", scrape_uri=uri) == [1],
                          "the new pool")
        late.close()  # php-fpm removes its socket on the way out
        agent.samples_when(lambda s: not find(s, "phpfpm_up", check="found"),
                          "the pool to go with its socket")


class SreProbePhpFpmTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.fpm = PhpFpm(php_fpm_binary(cls), [Pool("www", children=2),
                                               Pool("tcp", "tcp", children=1)])
        cls.www, cls.tcp = cls.fpm.pools

    @classmethod
    def tearDownClass(cls):
        cls.fpm.close()

    def probe(self, *args):
        return subprocess.run([os.environ["SRE_PROBE"], "php-fpm", *args],
                              capture_output=True, text=True, timeout=30)

    def test_summary_of_each_pool(self):
        result = self.probe(self.www.scrape_uri, self.tcp.scrape_uri)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("2 of 2 pools up", result.stdout)
        self.assertRegex(result.stdout, r"\n  www  ok .* active, .* idle, listen queue 0 of 0")
        self.assertRegex(result.stdout, r"\n  tcp  ok .* listen queue 0 of 4096")

    def test_process_table(self):
        result = self.probe(self.www.scrape_uri, "--processes")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        pids = [str(p["pid"]) for p in status_json(self.www.address)["processes"]]
        for child, pid in enumerate(pids):
            self.assertRegex(result.stdout, rf"\n  www/{child} .* pid {pid} ")

    def test_json_and_nagios(self):
        result = self.probe(self.tcp.scrape_uri, "--output", "json")
        report = assert_probe_json(self, result.stdout)["results"][0]
        self.assertEqual((report["status"], report["exit_code"]), ("OK", 0))
        self.assertEqual(report["observations"][0]["subject"], "tcp")
        self.assertEqual(report["observations"][0]["details"]["process_manager"], "static")
        result = self.probe(self.tcp.scrape_uri, "--output", "nagios")
        self.assertTrue(result.stdout.startswith("PHP_FPM OK - "), result.stdout)

    def test_a_missing_socket_is_critical(self):
        result = self.probe(f"unix://{self.fpm.dir}/gone.sock;/status")
        self.assertEqual(result.returncode, 2)
        self.assertIn("not_present", result.stdout)

    def test_a_pool_without_status_path_says_what_to_set(self):
        result = self.probe(f"unix://{self.www.address};/not-status")
        self.assertEqual(result.returncode, 2)
        self.assertIn("set pm.status_path = /not-status", result.stdout)


if __name__ == "__main__":
    unittest.main()
