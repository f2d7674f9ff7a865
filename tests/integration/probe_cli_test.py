"""sre-probe for on-call, beyond one check once: `check` over an agent config, `config validate`,
`--count`, the one JSON schema, Nagios output, and the colours and alignment a terminal gets
(under tmux)."""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

from support import Peers, assert_probe_json, require_tool, wait_for


def probe(*args, env=None):
    return subprocess.run([os.environ["SRE_PROBE"], *args], capture_output=True, text=True,
                          timeout=30, env={**os.environ, **(env or {})})


class ProbeCliTest(unittest.TestCase):
    def setUp(self):
        self.peers = Peers()
        self.addCleanup(self.peers.close)
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir, True)
        p = self.peers.ports
        self.config = self.write("agent.yaml", f"""tcp:
  - check: db-writer
    target: 127.0.0.1:{p['ok']}
  - check: db-reader
    target: 127.0.0.1:{p['refused']}
  - check: smtp
    target: 127.0.0.1:{p['banner']}
    query_response: [{{expect: "^220 "}}]
php_fpm:
  - check: fpm
    socket_glob: {self.dir}/nothing/*.sock
""")

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_check_runs_every_configured_check_failures_first(self):
        result = probe("check", "--config", self.config)
        self.assertEqual(result.returncode, 2, result.stderr)
        lines = result.stdout.splitlines()
        self.assertEqual(len(lines), 5, result.stdout)
        self.assertTrue(lines[0].startswith("CRITICAL tcp db-reader "), lines[0])
        self.assertIn("connection_refused", lines[0])
        self.assertEqual(sorted(line.split()[0] for line in lines[1:4]), ["ABSENT", "OK", "OK"])
        self.assertEqual(lines[4], "4 checks: 2 OK, 1 absent, 1 CRITICAL")
        # Aligned: every duration ends in the same column.
        self.assertEqual(len({line.index(" ms") for line in lines[:4]}), 1, result.stdout)

        named = probe("check", "db-writer", "tcp/smtp", "--config", self.config)
        self.assertEqual(named.returncode, 0, named.stdout + named.stderr)
        self.assertEqual(named.stdout.splitlines()[-1], "2 checks: 2 OK")

        doc = assert_probe_json(self, probe("check", "--config", self.config,
                                            "--output", "json").stdout)
        self.assertEqual((doc["command"], doc["exit_code"]), ("check", 2))
        self.assertEqual([r["check"] for r in doc["results"]],
                         ["db-writer", "db-reader", "smtp", "fpm"])
        self.assertEqual((doc["summary"]["ok"], doc["summary"]["absent"],
                          doc["summary"]["critical"]), (2, 1, 1))

        nagios = probe("check", "--config", self.config, "--output", "nagios")
        self.assertEqual(nagios.returncode, 2)
        self.assertRegex(nagios.stdout,
                         r"^SRE-PROBE CRITICAL - 3 of 4 checks OK \(1 absent\): db-reader \(CRITICAL\) \| "
                         r"'db-writer'=[0-9.]+s;;;0 'db-reader'=[0-9.]+s;;;0")

    def test_check_cuts_a_hanging_target_at_its_timeout(self):
        config = self.write("hang.yaml", f"tcp:\n  - check: hang\n"
                                         f"    target: 127.0.0.1:{self.peers.ports['hang']}\n")
        start = time.monotonic()
        result = probe("check", "--config", config, "--timeout", "300ms")
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(result.returncode, 2)
        self.assertIn("timeout", result.stdout)

    def test_config_validate(self):
        valid = probe("config", "validate", self.config)
        self.assertEqual(valid.returncode, 0, valid.stderr)
        self.assertEqual(valid.stdout, f"{self.config}: valid (4 checks: 1 php_fpm, 3 tcp; "
                                       "0 alerting rules, 0 receivers)\n")
        bad = self.write("bad.yaml", "tcp:\n  - check: a\n    target: 127.0.0.1:1\n    tiemout: 1s\n")
        invalid = probe("config", "validate", bad)
        self.assertEqual(invalid.returncode, 1)
        self.assertTrue(invalid.stderr.startswith(f"{bad}:4:5: "), invalid.stderr)
        self.assertIn("tiemout", invalid.stderr)
        for args in (["config", "validate", os.path.join(self.dir, "missing.yaml")],
                     ["config", "validate"], ["config"], ["config", "check", self.config],
                     ["check", "--config", os.path.join(self.dir, "missing.yaml")],
                     ["check", "nope", "--config", self.config]):
            with self.subTest(args=args):
                result = probe(*args)
                self.assertEqual(result.returncode, 3, result.stdout + result.stderr)
                self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
                self.assertTrue(result.stderr.startswith("sre-probe: "), result.stderr)

    def test_count_repeats_and_summarises_like_ping(self):
        target = f"127.0.0.1:{self.peers.ports['ok']}"
        result = probe("tcp", target, "--count", "3", "--interval", "10ms")
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.splitlines()
        self.assertEqual(len(lines), 4, result.stdout)
        self.assertTrue(all(line.startswith("OK ") for line in lines[:3]), result.stdout)
        self.assertRegex(lines[3], rf"^--- tcp {target}: 3 runs, 0 failed \(0%\), "
                                   r"min/median/max [0-9.]+/[0-9.]+/[0-9.]+ ms$")
        doc = assert_probe_json(self, probe("tcp", target, "--count", "2", "--interval", "10ms",
                                            "--output", "json").stdout)
        self.assertEqual(doc["summary"]["runs"], 2)
        self.assertLessEqual(doc["summary"]["min_seconds"], doc["summary"]["max_seconds"])
        refused = probe("tcp", f"127.0.0.1:{self.peers.ports['refused']}", "--count", "2",
                        "--interval", "10ms", "--output", "nagios")
        self.assertEqual(refused.returncode, 2)
        self.assertRegex(refused.stdout, r"^TCP CRITICAL - 127.0.0.1:\d+: 2 runs, 2 failed \| failures=2")
        self.assertEqual(probe("tcp", target, "--count", "0").returncode, 3)

    # What a person at a terminal sees: colour by status, and none with NO_COLOR.
    def test_terminal_gets_colour_unless_no_color(self):
        tmux = require_tool(self, "tmux")
        socket_name = f"sre-probe-test-{os.getpid()}"
        self.addCleanup(subprocess.run, [tmux, "-L", socket_name, "kill-server"],
                        capture_output=True)
        out = os.path.join(self.dir, "done")
        command = (f"{os.environ['SRE_PROBE']} check --config {self.config}; "
                   f"NO_COLOR=1 {os.environ['SRE_PROBE']} check --config {self.config}; "
                   f"touch {out}; sleep 60")
        subprocess.run([tmux, "-L", socket_name, "-f", "/dev/null", "new-session", "-d", "-x",
                        "200", "-y", "50", command], check=True)
        wait_for(lambda: os.path.exists(out), timeout=20, what="both runs in tmux")
        screen = subprocess.run([tmux, "-L", socket_name, "capture-pane", "-p", "-e"],
                                capture_output=True, text=True, check=True).stdout
        lines = [line for line in screen.splitlines() if line.strip()]
        self.assertEqual(len(lines), 10, screen)
        coloured, plain = lines[:5], lines[5:]
        self.assertIn("\x1b[31mCRITICAL", coloured[0])
        self.assertTrue(any("\x1b[32mOK" in line for line in coloured), screen)
        self.assertFalse(any("\x1b[" in line for line in plain), screen)
        self.assertTrue(plain[0].startswith("CRITICAL tcp db-reader"), plain[0])


if __name__ == "__main__":
    unittest.main()
