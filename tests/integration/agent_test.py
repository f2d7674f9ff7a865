"""The built sre-agent and sre-probe against real loopback peers, dnsmasq, promtool and
Chromium. Run by ctest (label integration) with SRE_AGENT and SRE_PROBE set."""

import gzip
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from support import (Agent, Dnsmasq, Peers, assert_probe_json, find, free_port, parse_metrics,
                     require_tool, wait_for)


def tcp_check(name, port, host="127.0.0.1", **extra):
    lines = [f"  - check: {name}", f"    target: {host}:{port}"]
    for key, value in extra.items():
        lines.append(f"    {key}: {value}")
    return "\n".join(lines) + "\n"


EXPECT_BANNER = '[{expect: "^220 "}]'


class OutcomesTest(unittest.TestCase):
    """One agent with a reachable, refused, hanging, garbage, silent and resetting endpoint, and a
    name with three addresses of which one refuses."""

    @classmethod
    def setUpClass(cls):
        cls.peers = Peers()
        p = cls.peers.ports
        cls.dns = None
        dnsmasq = require_tool(cls(), "dnsmasq")
        # Two of three addresses of multi.test accept; 127.0.0.4 refuses.
        multi_port = cls.peers.listen_on("127.0.0.2", 0)
        cls.peers.listen_on("127.0.0.3", multi_port)
        cls.dns = Dnsmasq(dnsmasq, {"multi.test": ["127.0.0.2", "127.0.0.3", "127.0.0.4"]})
        config = (
            "agent:\n  interval: 1s\n  timeout: 500ms\n"
            "tcp:\n"
            + tcp_check("ok", p["ok"], labels="{role: writer}")
            + tcp_check("refused", p["refused"])
            + tcp_check("hang", p["hang"], timeout="300ms")
            + tcp_check("garbage", p["garbage"], query_response=EXPECT_BANNER)
            + tcp_check("silent", p["silent"], timeout="300ms", query_response=EXPECT_BANNER)
            + tcp_check("reset", p["reset"], query_response=EXPECT_BANNER)
            + tcp_check("banner", p["banner"], query_response=EXPECT_BANNER)
            + tcp_check("multi", multi_port, host="multi.test",
                        dns_servers=f'["127.0.0.1:{cls.dns.port}"]')
            + tcp_check("nxdomain", 80, host="nothing.test",
                        dns_servers=f'["127.0.0.1:{cls.dns.port}"]')
        )
        cls.agent = Agent(config)
        cls.agent.wait_ready()
        cls.text = cls.agent.metrics()
        cls.samples = parse_metrics(cls.text)

    @classmethod
    def tearDownClass(cls):
        cls.agent.stop()
        if cls.dns:
            cls.dns.close()
        cls.peers.close()

    def success(self, check, **labels):
        values = find(self.samples, "probe_success", check=check, **labels)
        self.assertTrue(values, f"no probe_success for {check}:\n{self.text}")
        return values

    def reasons(self, check):
        return sorted(l["reason"] for n, l, v in self.samples
                      if n == "probe_failure_info" and l.get("check") == check and v == 1)

    def test_reachable_endpoint_succeeds_with_its_labels(self):
        self.assertEqual(self.success("ok", address="127.0.0.1", role="writer"), [1.0])
        self.assertEqual(self.reasons("ok"), [])

    def test_each_fault_has_its_reason(self):
        expected = {
            "refused": "connection_refused",
            "hang": "timeout",
            "garbage": "body_mismatch",
            "silent": "timeout",
            "reset": "connection_reset",
        }
        for check, reason in expected.items():
            with self.subTest(check=check):
                self.assertEqual(self.success(check), [0.0])
                self.assertEqual(self.reasons(check), [reason])
        self.assertEqual(find(self.samples, "probe_failed_due_to_regex", check="garbage"), [1.0])
        self.assertEqual(self.success("banner"), [1.0])

    def test_hung_checks_end_at_their_deadline(self):
        for check in ("hang", "silent"):
            [took] = find(self.samples, "sre_agent_collect_duration_seconds", check=check)
            self.assertGreaterEqual(took, 0.29)
            self.assertLess(took, 1.0)  # the interval: a hung target never holds a run past it

    def test_every_address_of_a_name_is_probed(self):
        by_address = {l["address"]: v for n, l, v in self.samples
                      if n == "probe_success" and l.get("check") == "multi"}
        self.assertEqual(by_address, {"127.0.0.2": 1.0, "127.0.0.3": 1.0, "127.0.0.4": 0.0})
        self.assertEqual(self.reasons("multi"), ["connection_refused"])

    def test_unknown_name_is_a_dns_error(self):
        self.assertEqual(self.success("nxdomain"), [0.0])
        self.assertEqual(self.reasons("nxdomain"), ["dns_error"])

    def test_agent_series(self):
        self.assertEqual(find(self.samples, "sre_agent_checks", exporter="tcp"), [9.0])
        self.assertEqual(find(self.samples, "sre_agent_config_last_reload_successful"), [1.0])
        [info] = [l for n, l, v in self.samples if n == "sre_agent_build_info"]
        self.assertTrue(info["version"])
        self.assertEqual(len(find(self.samples, "process_resident_memory_bytes")), 1)
        [errors] = find(self.samples, "sre_agent_collect_errors_total", check="refused",
                        reason="connection_refused")
        self.assertGreaterEqual(errors, 1)

    def test_no_reserved_labels(self):
        for name, labels, _ in self.samples:
            for reserved in ("instance", "job", "namespace", "pod", "container", "service"):
                self.assertNotIn(reserved, labels, name)

    def test_promtool_accepts_the_exposition(self):
        promtool = require_tool(self, "promtool")
        result = subprocess.run([promtool, "check", "metrics"], input=self.text,
                                capture_output=True, text=True)
        # promtool exits 0, or 3 for lint warnings only; errors exit 1.
        self.assertIn(result.returncode, (0, 3), result.stdout + result.stderr)
        for line in (result.stdout + result.stderr).splitlines():
            self.assertNotIn("error", line.lower(), line)

    def test_content_type_and_gzip(self):
        status, headers, body = self.agent.get("/metrics", {"Accept-Encoding": "gzip"})
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        self.assertEqual(headers["Content-Encoding"], "gzip")
        self.assertIn(b"# TYPE probe_success gauge", gzip.decompress(body))

    def test_openmetrics_needs_the_flag(self):
        status, headers, _ = self.agent.get(
            "/metrics", {"Accept": "application/openmetrics-text; version=1.0.0"})
        self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")

    def test_landing_page_in_chromium(self):
        chromium = require_tool(self, "chromium")
        with tempfile.TemporaryDirectory() as profile:
            result = subprocess.run(
                [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", f"--user-data-dir={profile}", "--dump-dom", self.agent.url + "/"],
                capture_output=True, text=True, timeout=120)
        dom = result.stdout
        self.assertIn("sre-agent", dom, result.stderr[-2000:])
        for check in ("ok", "refused", "hang", "multi"):
            self.assertIn(f">{check}<", dom)
        self.assertIn("connection_refused", dom)
        self.assertIn("FAIL", dom)
        # Failing checks come first.
        self.assertLess(dom.index(">refused<"), dom.index(">ok<"))

    def test_endpoints_and_methods(self):
        self.assertEqual(self.agent.get("/-/healthy")[0], 200)
        self.assertEqual(self.agent.get("/-/ready")[0], 200)
        self.assertEqual(self.agent.get("/-/reload")[0], 405)
        self.assertEqual(self.agent.get("/nope")[0], 404)


class LifecycleTest(unittest.TestCase):
    def setUp(self):
        self.peers = Peers()

    def tearDown(self):
        self.peers.close()

    def test_reload_keeps_the_old_config_when_the_new_one_is_bad(self):
        p = self.peers.ports
        agent = Agent("tcp:\n" + tcp_check("first", p["ok"], interval="100ms", timeout="50ms"))
        try:
            agent.wait_ready()
            agent.write_config("tcp:\n  - check: broken\n    target: nowhere\n")
            agent.process.send_signal(signal.SIGHUP)
            wait_for(lambda: find(parse_metrics(agent.metrics()),
                                  "sre_agent_config_last_reload_successful") == [0.0],
                     what="the rejected reload to show")
            samples = parse_metrics(agent.metrics())
            self.assertEqual(find(samples, "probe_success", check="first"), [1.0])
            self.assertTrue(any("reload rejected" in l and "agent.yaml:3:13" in l
                                for l in agent.lines), agent.lines)
            status, _, body = agent.get("/", {})
            self.assertIn(b"agent.yaml:3:13", body)

            agent.write_config("tcp:\n" + tcp_check("second", p["refused"], interval="100ms",
                                                    timeout="50ms"))
            status, _, body = agent.get("/-/reload", method="POST")
            self.assertEqual(status, 200, body)
            wait_for(lambda: find(parse_metrics(agent.metrics()), "probe_success", check="second"),
                     what="the new check to report")
            samples = parse_metrics(agent.metrics())
            self.assertEqual(find(samples, "probe_success", check="first"), [])
            self.assertEqual(find(samples, "sre_agent_config_last_reload_successful"), [1.0])
        finally:
            self.assertEqual(agent.stop(), 0)

    def test_telemetry_path_and_openmetrics_flags(self):
        agent = Agent("tcp:\n" + tcp_check("ok", self.peers.ports["ok"]),
                      "--web.telemetry-path=/internal/metrics", "--web.enable-openmetrics")
        try:
            agent.wait_ready()
            self.assertEqual(agent.get("/metrics")[0], 404)
            status, headers, body = agent.get(
                "/internal/metrics", {"Accept": "application/openmetrics-text; version=1.0.0"})
            self.assertEqual(status, 200)
            self.assertEqual(headers["Content-Type"],
                             "application/openmetrics-text; version=1.0.0; charset=utf-8")
            text = body.decode()
            self.assertTrue(text.endswith("# EOF\n"))
            self.assertIn("# TYPE probe_attempts counter", text)
            self.assertIn("probe_attempts_total{", text)
            promtool = require_tool(self, "promtool")
            result = subprocess.run([promtool, "check", "metrics"], input=agent.get(
                "/internal/metrics")[2].decode(), capture_output=True, text=True)
            self.assertIn(result.returncode, (0, 3), result.stdout + result.stderr)
        finally:
            self.assertEqual(agent.stop(), 0)

    def test_sigterm_drains_and_exits_zero_within_two_seconds(self):
        p = self.peers.ports
        agent = Agent("tcp:\n" + tcp_check("hang", p["hang"], interval="5s", timeout="4s"))
        wait_for(lambda: any("sre-agent started" in l for l in agent.lines), what="start")
        start = time.monotonic()
        code = agent.stop(signal.SIGTERM)
        self.assertEqual(code, 0)
        self.assertLess(time.monotonic() - start, 2.0)

    def test_hanging_endpoints_do_not_stall_healthy_checks_or_metrics(self):
        p = self.peers.ports
        config = "agent:\n  interval: 2s\n  timeout: 1500ms\ntcp:\n"
        config += tcp_check("healthy", p["ok"], interval="100ms", timeout="50ms")
        config += "".join(tcp_check(f"hang-{i}", p["hang"]) for i in range(1000))
        agent = Agent(config)
        try:
            # While a thousand connects hang, the healthy check keeps running on time and
            # /metrics keeps answering.
            def healthy_runs():
                return find(parse_metrics(agent.metrics()), "sre_agent_collects_total",
                            check="healthy")
            wait_for(lambda: healthy_runs() and healthy_runs()[0] >= 10, timeout=15,
                     what="ten healthy runs while 1000 checks hang")
            samples = parse_metrics(agent.metrics())
            self.assertEqual(find(samples, "probe_success", check="healthy",
                                  address="127.0.0.1"), [1.0])
            # Success means it finished within its own 50ms deadline: it never waited for the
            # hanging connects.
            self.assertEqual(find(samples, "sre_agent_skipped_ticks_total", check="healthy"), [0.0])
        finally:
            self.assertEqual(agent.stop(), 0)


class CommandLineTest(unittest.TestCase):
    def run_agent(self, *args):
        return subprocess.run([os.environ["SRE_AGENT"], *args], capture_output=True, text=True,
                              timeout=30)

    def check_config(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(text)
        try:
            result = self.run_agent(f"--config.file={f.name}", "--config.check")
            return result.returncode, result.stderr.replace(f.name, "F")
        finally:
            os.unlink(f.name)

    def test_config_check_names_file_line_and_column(self):
        cases = {
            "tcp:\n  - check: a\n    target: [x\n": "F:4:1:",
            "tcp:\n  - check: a\n    target: db:1\n    colour: red\n":
                'F:4:5: unknown key "colour"; valid keys:',
            "tcp:\n  - check: a\n    target: db:1\n    interval: soon\n":
                "F:4:15: expected a duration",
            "tcp:\n  - check: a\n    target: db\n": 'F:3:13: invalid target "db"',
        }
        for text, expected in cases.items():
            with self.subTest(expected=expected):
                code, stderr = self.check_config(text)
                self.assertEqual(code, 1, stderr)
                self.assertIn(expected, stderr)
        code, _ = self.check_config("tcp:\n  - check: a\n    target: db:1\n")
        self.assertEqual(code, 0)

    def test_invalid_config_starts_nothing(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write("tcp: {}\n")
            f.flush()
            result = self.run_agent(f"--config.file={f.name}", "--web.listen-address=127.0.0.1:0")
        self.assertEqual(result.returncode, 1)
        self.assertIn("expected a list of tcp checks", result.stderr)
        self.assertNotIn("listening", result.stderr)

    def test_version_and_describe(self):
        result = self.run_agent("--version")
        self.assertEqual(result.returncode, 0)
        self.assertRegex(result.stdout, r"^sre-agent \d+\.\d+\.\d+ \(revision \S+\)")
        result = self.run_agent("--describe", "tcp")
        self.assertEqual(result.returncode, 0)
        for key in ("target", "interval", "query_response", "tls_config", "dns_servers"):
            self.assertIn(key, result.stdout)
        result = self.run_agent("--describe", "alerting")
        self.assertEqual(result.returncode, 0)
        for key in ("rules", "receivers", "routes", "spool", "resend_delay", "routing_key"):
            self.assertIn(key, result.stdout)
        self.assertEqual(self.run_agent("--describe", "nope").returncode, 1)
        self.assertEqual(self.run_agent("--bogus").returncode, 1)
        result = self.run_agent("--web.telemetry-path=metrics")
        self.assertEqual(result.returncode, 1)
        self.assertIn("--web.telemetry-path: expected a path like /metrics", result.stderr)


class ProbeTest(unittest.TestCase):
    def setUp(self):
        self.peers = Peers()

    def tearDown(self):
        self.peers.close()

    def probe(self, *args):
        return subprocess.run([os.environ["SRE_PROBE"], *args], capture_output=True, text=True,
                              timeout=30)

    def test_exit_codes(self):
        p = self.peers.ports
        self.assertEqual(self.probe("tcp", f"127.0.0.1:{p['ok']}").returncode, 0)
        refused = self.probe("tcp", f"127.0.0.1:{p['refused']}")
        self.assertEqual(refused.returncode, 2)
        self.assertIn("connection_refused", refused.stdout)
        hang = self.probe("tcp", f"127.0.0.1:{p['hang']}", "--timeout=200ms")
        self.assertEqual(hang.returncode, 2)
        self.assertIn("timeout", hang.stdout)
        self.assertEqual(self.probe("tcp", f"127.0.0.1:{p['ok']}", "--warning=0s").returncode, 1)

    def test_send_and_expect(self):
        p = self.peers.ports
        result = self.probe("tcp", f"127.0.0.1:{p['banner']}", "--expect", "^220 ")
        self.assertEqual(result.returncode, 0, result.stdout)
        result = self.probe("tcp", f"127.0.0.1:{p['garbage']}", "--expect", "^220 ")
        self.assertEqual(result.returncode, 2)
        self.assertIn("body_mismatch", result.stdout)

    def test_bad_input_is_one_line_and_exit_3(self):
        for args in (["tcp", "nohost"], ["tcp", "a:1", "--bogus"], ["tcp"], ["nope"],
                     ["tcp", "a:1", "--timeout=fast"], ["tcp", "a:1", "--output=yaml"],
                     ["tcp", "a:1", "--expect", "("]):
            with self.subTest(args=args):
                result = self.probe(*args)
                self.assertEqual(result.returncode, 3, result.stdout + result.stderr)
                self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
                self.assertTrue(result.stderr.startswith("sre-probe: "), result.stderr)

    def test_outputs(self):
        p = self.peers.ports
        result = self.probe("tcp", f"127.0.0.1:{p['refused']}", "--output=json")
        report = assert_probe_json(self, result.stdout)["results"][0]
        self.assertEqual(report["status"], "CRITICAL")
        self.assertEqual(report["reason"], "connection_refused")
        self.assertEqual(report["observations"][0]["subject"], "127.0.0.1")
        nagios = self.probe("tcp", f"127.0.0.1:{p['ok']}", "--output=nagios").stdout
        self.assertRegex(nagios, r"^TCP OK - .* \| time=[0-9.]+s;;;0")
        prom = self.probe("tcp", f"127.0.0.1:{p['ok']}", "--output=prom").stdout
        self.assertIn("# TYPE probe_success gauge", prom)


PROBE_MODULES = """\
  modules:
    tcp_connect:
      prober: tcp
      timeout: 2s
    banner:
      prober: tcp
      tcp:
        query_response: [{expect: "^220 "}]
"""


def families(text):
    """{name: type} of a text-format body."""
    return {line.split()[2]: line.split()[3] for line in text.splitlines()
            if line.startswith("# TYPE ")}


class ProbeEndpointTest(unittest.TestCase):
    """/probe?module=&target= on the real agent with tcp modules, checked against
    blackbox_exporter itself when it is installed."""

    @classmethod
    def setUpClass(cls):
        cls.peers = Peers()
        cls.agent = Agent("probe:\n  allow: [127.0.0.1]\n" + PROBE_MODULES)
        cls.agent.wait_ready()

    @classmethod
    def tearDownClass(cls):
        cls.agent.stop()
        cls.peers.close()

    def probe(self, query, headers=None):
        return self.agent.get("/probe?" + query, headers)

    def test_reachable_and_failing_targets(self):
        p = self.peers.ports
        status, headers, body = self.probe(f"module=tcp_connect&target=127.0.0.1:{p['ok']}")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        samples = parse_metrics(body.decode())
        self.assertEqual(find(samples, "probe_success"), [1.0])
        self.assertEqual(find(samples, "probe_ip_addr_hash"), [3668918509.0])
        self.assertTrue(all(labels == {} for _, labels, _ in samples), samples)
        for query, name, value in (
                (f"module=tcp_connect&target=127.0.0.1:{p['refused']}", "probe_success", 0.0),
                (f"module=banner&target=127.0.0.1:{p['banner']}", "probe_success", 1.0),
                (f"module=banner&target=127.0.0.1:{p['garbage']}", "probe_failed_due_to_regex",
                 1.0)):
            with self.subTest(query=query):
                status, _, body = self.probe(query)
                self.assertEqual(status, 200, body)
                self.assertEqual(find(parse_metrics(body.decode()), name), [value])

    def test_bad_requests(self):
        self.assertEqual(self.probe("module=nope&target=127.0.0.1:1")[::2],
                         (400, b'Unknown module "nope"\n'))
        self.assertEqual(self.probe("module=tcp_connect")[::2],
                         (400, b"Target parameter is missing\n"))
        for target in ("10.0.0.1:80", "localhost:80"):
            status, _, body = self.probe(f"module=tcp_connect&target={target}")
            self.assertEqual(status, 403, body)
            self.assertIn(b"probe.allow", body)

    def test_scrape_timeout_header_bounds_a_hanging_probe_without_blocking_metrics(self):
        result = {}

        def hanging():
            start = time.monotonic()
            target = f"127.0.0.1:{self.peers.ports['hang']}"
            result["reply"] = self.probe(f"module=tcp_connect&target={target}",
                                         {"X-Prometheus-Scrape-Timeout-Seconds": "1.5"})
            result["took"] = time.monotonic() - start

        thread = threading.Thread(target=hanging)
        thread.start()
        while thread.is_alive() and "reply" not in result:
            start = time.monotonic()
            self.assertEqual(self.agent.get("/metrics")[0], 200)
            self.assertLess(time.monotonic() - start, 0.5)  # never waits for the probe
            time.sleep(0.05)
        thread.join()
        status, _, body = result["reply"]
        self.assertEqual(status, 200, body)
        self.assertEqual(find(parse_metrics(body.decode()), "probe_success"), [0.0])
        # 1.5s minus blackbox's 0.5s offset.
        self.assertGreaterEqual(result["took"], 0.9)
        self.assertLess(result["took"], 1.5)

    def test_promtool_accepts_the_answer(self):
        promtool = require_tool(self, "promtool")
        _, _, body = self.probe(f"module=tcp_connect&target=127.0.0.1:{self.peers.ports['ok']}")
        result = subprocess.run([promtool, "check", "metrics"], input=body.decode(),
                                capture_output=True, text=True)
        self.assertIn(result.returncode, (0, 3), result.stdout + result.stderr)

    def test_same_families_as_blackbox_exporter(self):
        binary = require_tool(self, "prometheus-blackbox-exporter")
        workdir = tempfile.mkdtemp()
        try:
            config = os.path.join(workdir, "blackbox.yml")
            with open(config, "w") as f:
                f.write(PROBE_MODULES)
            port = free_port()
            blackbox = subprocess.Popen(
                [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                def blackbox_probe(query):
                    try:
                        with urllib.request.urlopen(
                                f"http://127.0.0.1:{port}/probe?{query}", timeout=10) as reply:
                            return reply.read().decode()
                    except OSError:
                        return None
                p = self.peers.ports
                for query in (f"module=tcp_connect&target=127.0.0.1:{p['ok']}",
                              f"module=tcp_connect&target=127.0.0.1:{p['refused']}",
                              f"module=banner&target=127.0.0.1:{p['garbage']}"):
                    with self.subTest(query=query):
                        theirs = wait_for(lambda: blackbox_probe(query), what="blackbox_exporter")
                        ours = self.probe(query)[2].decode()
                        self.assertEqual(families(ours), families(theirs), ours + "\n" + theirs)
                        self.assertEqual(
                            {(n, tuple(sorted(l))) for n, l, _ in parse_metrics(ours)},
                            {(n, tuple(sorted(l))) for n, l, _ in parse_metrics(theirs)})
                        self.assertEqual(find(parse_metrics(ours), "probe_success"),
                                         find(parse_metrics(theirs), "probe_success"))
            finally:
                blackbox.terminate()
                blackbox.wait(timeout=10)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
