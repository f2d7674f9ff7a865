"""The Grafana dashboards of dashboards/grafana/ (issue 9): their structure, and that every panel's
query returns data from a real agent scraped by a real Prometheus.

DashboardStructureTest needs nothing but python3: the JSON is what generate.py writes, schema
36 or later, unique panel ids, a gridPos on every panel, the `datasource` variable on every panel
and target, an expr on every target, the job/instance/node variables, and only metric and label
names the agent exports (dashboards/prometheus/check.py's list).

DashboardDataTest starts the built sre-agent with every exporter pointed at a real local service:
tcp at a loopback listener (and at a refused port, so the failure panels have data), http_probe at
HTTPS and plain HTTP servers (one path answers 404, so an SLA violation is open), php_fpm at a
php-fpm 8.2 pool (php_fpm.py), postfix at a private postfix (postfix.py: showq and its mail log,
with mail deferred after the agent started), fluentd at the monitor_agent replay (two workers, one
retrying), and one alerting rule that fires, so sre_agent_alerts has data. Debian's prometheus
scrapes it every second with rules.yml evaluated every second. Then every panel target of every
dashboard, with the variables substituted (INTERVALS and the real job, instance and node), and
every alert of rules.yml without its comparison, must return at least one series with a number
(not NaN). It prints the table of panel, query and series count, and writes it to
dashboards/grafana/PANELS.md when DASHBOARDS_WRITE_PANELS=1.
Run by ctest (label integration) with SRE_AGENT set."""

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from fluentd_replay import MonitorAgentReplay
from http_probe_test import Server, make_pki
from php_fpm import Pool, PhpFpm, fcgi_get, php_fpm_binary
from postfix import Postfix, postfix_tools
from support import Agent, Peers, free_port, require_tool, wait_for

ROOT = pathlib.Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "dashboards" / "grafana"
RULES = ROOT / "dashboards" / "prometheus" / "rules.yml"
sys.dont_write_bytecode = True  # no __pycache__ under dashboards/
sys.path.insert(0, str(GRAFANA))
sys.path.insert(0, str(RULES.parent))
import check as rules_check  # noqa: E402  (dashboards/prometheus/check.py)
import generate  # noqa: E402  (dashboards/grafana/generate.py)

NODE = "test-node"
JOB = "sre-agent"
# Grafana's interval variables, as the test sets them. $__rate_interval is what Grafana gives for
# a 15s scrape interval (4 x 15s); at the test's 1s scrapes a 1m window holds two samples, which
# rate() needs, two seconds after the first scrape. $__range is the dashboards' default range
# shortened to 1h (increase() over it needs two samples too).
INTERVALS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}
# How long to wait for every query to return data (rates need two scrapes of each series, the
# postfix delivery counters a delivery attempt after the agent started following the log).
DATA_TIMEOUT = 30.0

# Alerts whose expression is not "something OP threshold" (or such terms joined by and/or):
# what must return data instead, by alert name.
EXPLICIT_ALERTS = {
    # absent(x) has a value only while x has none: the test proves x has data.
    "SreAgentAbsent": 'up{job=~".*sre-agent.*"}',
}
COMPARISON = re.compile(r"==|!=|>=|<=|>|<")


def _top_level(expr):
    """[(index, char)] of expr's characters outside (), {}, [] and strings."""
    out, depth, quote = [], 0, None
    i = 0
    while i < len(expr):
        c = expr[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
        elif c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        elif depth == 0:
            out.append((i, c))
        i += 1
    return out


def _split_set_operators(expr):
    """expr split at its top-level `and`, `or` and `unless`: ([operands], [operators])."""
    top = {i for i, _ in _top_level(expr)}
    masked = "".join(c if i in top else " " for i, c in enumerate(expr))
    operands, operators, start = [], [], 0
    for match in re.finditer(r"\b(and|or|unless)\b", masked):
        operands.append(expr[start:match.start()])
        operators.append(match.group(1))
        start = match.end()
    operands.append(expr[start:])
    return operands, operators


def without_comparison(expr):
    """An alert expression with its filtering comparisons removed: each and/or operand loses its
    top-level `OP threshold` (the left side is kept), and an operand that is then wholly in
    parentheses is unwrapped and stripped again, so `(a - time() < 14) >= 3` gives
    `a - time()`."""
    operands, operators = _split_set_operators(" ".join(expr.split()))
    stripped = []
    for operand in operands:
        operand = operand.strip()
        while True:
            top = _top_level(operand)
            text = "".join(c for _, c in top)
            match = COMPARISON.search(text)
            if match:
                operand = operand[:top[match.start()][0]].strip()
                continue
            if operand.startswith("(") and operand.endswith(")") and not _top_level(operand[:-1]):
                operand = operand[1:-1].strip()  # the only top-level ( is the first character
                continue
            break
        stripped.append(operand)
    out = stripped[0]
    for operator, operand in zip(operators, stripped[1:]):
        out += f" {operator} {operand}"
    return out


def panel_targets():
    """[(dashboard file, panel title, expr)] of every target of every dashboard."""
    out = []
    for name, board in generate.DASHBOARDS.items():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                out.append((f"{name}.json", panel["title"], target["expr"]))
    return out


def substitute(expr, values):
    for name in sorted({**INTERVALS, **values}, key=len, reverse=True):
        expr = expr.replace(name, {**INTERVALS, **values}[name])
    return expr


class DashboardStructureTest(unittest.TestCase):
    """Needs no services."""

    @classmethod
    def setUpClass(cls):
        cls.boards = {}
        for path in sorted(GRAFANA.glob("*.json")):
            with open(path) as f:
                cls.boards[path.name] = json.load(f)  # valid JSON, or the test errors here

    def test_files_are_what_generate_py_writes(self):
        expected = generate.rendered()
        self.assertEqual(sorted(expected), sorted(self.boards))
        for name, text in expected.items():
            self.assertEqual((GRAFANA / name).read_text(), text,
                             f"{name} is out of date: run python3 dashboards/grafana/generate.py")

    def test_schema_ids_layout_datasource_and_exprs(self):
        self.assertEqual(len(self.boards), 7)
        uids = [b["uid"] for b in self.boards.values()]
        self.assertEqual(len(uids), len(set(uids)), "dashboard uids are unique")
        want_ds = {"type": "prometheus", "uid": "${datasource}"}
        for name, board in self.boards.items():
            with self.subTest(dashboard=name):
                self.assertGreaterEqual(board["schemaVersion"], 36)
                ids = [p["id"] for p in board["panels"]]
                self.assertEqual(len(ids), len(set(ids)), "panel ids are unique")
                self.assertTrue(board["panels"])
                for panel in board["panels"]:
                    where = f"{name}: {panel['title']}"
                    grid = panel.get("gridPos")
                    self.assertIsNotNone(grid, where)
                    self.assertEqual(set(grid), {"x", "y", "w", "h"}, where)
                    self.assertLessEqual(grid["x"] + grid["w"], 24, where)
                    self.assertEqual(panel["datasource"], want_ds, where)
                    self.assertTrue(panel["targets"], where)
                    for target in panel["targets"]:
                        self.assertEqual(target["datasource"], want_ds, where)
                        self.assertTrue(target.get("expr", "").strip(), where)
                        self.assertTrue(target.get("refId"), where)

    def test_variables(self):
        for name, board in self.boards.items():
            with self.subTest(dashboard=name):
                variables = {v["name"]: v for v in board["templating"]["list"]}
                self.assertEqual(variables["datasource"]["type"], "datasource")
                self.assertEqual(variables["datasource"]["query"], "prometheus")
                for var in ("job", "instance", "node"):
                    self.assertEqual(variables[var]["type"], "query")
                    self.assertEqual(variables[var]["datasource"],
                                     {"type": "prometheus", "uid": "${datasource}"})
                    self.assertRegex(variables[var]["query"]["query"],
                                     rf"^label_values\(.*, {var}\)$")
                for panel in board["panels"]:
                    for target in panel["targets"]:
                        expr = target["expr"]
                        self.assertIn('job=~"$job"', expr, panel["title"])
                        self.assertIn('instance=~"$instance"', expr, panel["title"])

    def test_only_names_the_agent_exports(self):
        exported = rules_check.exported_names()
        recorded = {r["name"] for r in rules_check.read_rules(RULES.read_text())
                    if r["kind"] == "record"}
        allowed_labels = {"job", "instance", "node", "le"}  # Prometheus' and the scrape config's
        for board, title, expr in panel_targets():
            with self.subTest(dashboard=board, panel=title):
                for name in rules_check.metric_names(expr):
                    if name.startswith("$") or name in rules_check.PROMETHEUS_OWN | recorded:
                        continue
                    self.assertTrue(rules_check.is_exported(name, exported), name)
                for label in rules_check.label_names(expr) - allowed_labels:
                    self.assertIn(label, exported, label)

    def test_without_comparison(self):
        cases = {
            "probe_success == 0": "probe_success",
            "(probe_ssl_earliest_cert_expiry - time() < 14 * 86400) >= 3 * 86400":
                "probe_ssl_earliest_cert_expiry - time()",
            'a{q=~"x|y"} > 15 * 60\n or a{q="d"} > 86400': 'a{q=~"x|y"} or a{q="d"}',
            'deriv(d{q="x"}[1h]) * 3600 > 50 and d{q="x"} > 100':
                'deriv(d{q="x"}[1h]) * 3600 and d{q="x"}',
            's{e!~"tcp|h"} == 0 and a == 0': 's{e!~"tcp|h"} and a',
            "increase(m[15m]) > 0": "increase(m[15m])",
        }
        for expr, expected in cases.items():
            self.assertEqual(without_comparison(expr), expected, expr)


# The canary the Flagger MetricTemplate is filled in for.
FLAGGER_NAMESPACE, FLAGGER_TARGET = "test", "podinfo"
FLAGGER = pathlib.Path(__file__).resolve().parents[2] / "dashboards" / "prometheus" / \
    "flagger-metric-template.yml"


def agent_config(d):
    return f"""\
agent:
  interval: 1s
  timeout: 800ms
tcp:
  - check: db-writer
    target: 127.0.0.1:{d['tcp_ok']}
    interval: 500ms
  - check: db-reader
    target: 127.0.0.1:{d['tcp_refused']}
    interval: 500ms
  - check: {FLAGGER_NAMESPACE}/{FLAGGER_TARGET}-canary   # what the Flagger template reads
    target: 127.0.0.1:{d['tcp_ok']}
    interval: 500ms
http_probe:
  - check: site
    url: https://localhost:{d['https']}/ok
    interval: 500ms
    tls_config:
      ca_file: {d['ca']}
  - check: missing-page
    url: http://127.0.0.1:{d['http']}/missing
    interval: 500ms
    replicas: 1   # a shared probe, so the sharding series exist
sharding:
  self: this-agent
  peers: [this-agent]
php_fpm:
  - check: php-fpm
    scrape_uri: ["{d['fpm_uri']}"]
    interval: 500ms
postfix:
  - check: mail
    showq_path: "{d['showq']}"
    log_file: "{d['maillog']}"
    interval: 500ms
fluentd:
  - check: fluentd
    urls: ["{d['fluentd']}"]
    workers: 2
    interval: 500ms
alerting:
  rules:
    - alert: DbReaderDown
      expr: probe_success{{check="db-reader"}} < 1
      labels: {{severity: critical}}
      annotations: {{summary: "{{{{ $labels.target }}}} refuses connections"}}
  spool:
    path: {d['dir']}/alerts.spool
"""


class Prometheus:
    """Debian's prometheus on a loopback port, in a temp dir, stopped by PID."""

    def __init__(self, binary, target, node):
        self.dir = tempfile.mkdtemp(prefix="prometheus-")
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"""\
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files: ["{RULES}"]
scrape_configs:
  - job_name: {JOB}
    static_configs:
      - targets: ["{target}"]
        labels: {{node: {node}}}
""")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w")
        self.process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=self.log)
        wait_for(self._ready, timeout=30, what="prometheus /-/ready")

    def _ready(self):
        if self.process.poll() is not None:
            raise AssertionError("prometheus exited: " + self.log_tail())
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as reply:
                return reply.status == 200
        except OSError:
            return False

    def query(self, expr):
        """The result list of an instant query."""
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as reply:
            doc = json.load(reply)
        assert doc["status"] == "success", doc
        return doc["data"]["result"]

    def log_tail(self, n=20):
        self.log.flush()
        with open(os.path.join(self.dir, "prometheus.log")) as f:
            return "".join(f.readlines()[-n:])

    def close(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=15)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class DashboardDataTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.started = time.monotonic()
        cls.cleanups = []
        try:
            cls._start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _start(cls):
        prometheus = require_tool(cls("run"), "prometheus")
        fpm_binary = php_fpm_binary(cls)
        tools = postfix_tools(cls)
        d = {"dir": tempfile.mkdtemp()}
        cls.cleanups.append(lambda: shutil.rmtree(d["dir"], ignore_errors=True))
        peers = Peers()
        cls.cleanups.append(peers.close)
        d["tcp_ok"], d["tcp_refused"] = peers.ports["ok"], peers.ports["refused"]
        pki = make_pki(d["dir"])
        d["ca"] = pki["ca"]
        https, plain = Server(tls=pki["good"]), Server()
        cls.cleanups += [https.close, plain.close]
        d["https"], d["http"] = https.port, plain.port
        fpm = PhpFpm(fpm_binary, [Pool("web", "tcp", children=2)])
        cls.cleanups.append(fpm.close)
        cls.fpm = fpm
        d["fpm_uri"] = fpm.pools[0].scrape_uri
        pf = Postfix(tools)
        cls.cleanups.append(pf.close)
        cls.pf = pf
        d["showq"], d["maillog"] = pf.showq_path, pf.maillog
        replay = MonitorAgentReplay(["plugins_idle.json", "plugins_retrying.json"])
        cls.cleanups.append(replay.close)
        d["fluentd"] = replay.url

        agent = Agent(agent_config(d))
        cls.cleanups.append(agent.stop)
        agent.wait_ready()
        cls.agent = agent
        # After the agent follows the log (from its end): mail that the relay refuses, so the
        # delivery counters move; and requests to the pool, so its counters do.
        pf.send(5)
        for _ in range(3):
            fcgi_get(fpm.pools[0].address, "/ping")
        target = agent.url.removeprefix("http://")
        cls.prom = Prometheus(prometheus, target, NODE)
        cls.cleanups.append(cls.prom.close)
        cls.values = {"$job": JOB, "$instance": target, "$node": NODE}
        # A few scrapes, so rates have two samples at least.
        wait_for(lambda: cls.prom.query(f'count_over_time(up{{job="{JOB}"}}[1m]) >= 3'),
                 timeout=20, what="three scrapes of the agent")
        print(f"\nservices, agent and prometheus up after "
              f"{time.monotonic() - cls.started:.1f}s", file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        for cleanup in reversed(cls.cleanups):
            try:
                cleanup()
            except Exception as error:  # keep stopping the others
                print(f"cleanup failed: {error}", file=sys.stderr)
        cls.cleanups = []
        print(f"dashboards data test: {time.monotonic() - cls.started:.1f}s in all",
              file=sys.stderr)

    def counts_when_all_have_data(self, queries):
        """{query: count of series with a number}, retried until every query has one or
        DATA_TIMEOUT passes."""
        counts = {q: 0 for q in queries}
        deadline = time.monotonic() + DATA_TIMEOUT
        while True:
            for q in queries:
                if not counts[q]:
                    # A NaN (a quantile of empty buckets, a ratio of no attempts) is not data.
                    counts[q] = sum(1 for series in self.prom.query(q)
                                    if series["value"][1] not in ("NaN", "+Inf", "-Inf"))
            if all(counts.values()) or time.monotonic() > deadline:
                return counts
            time.sleep(0.5)

    def test_variables_have_values(self):
        result = self.prom.query(f'sre_agent_build_info{{job="{JOB}"}}')
        self.assertEqual(len(result), 1)
        labels = result[0]["metric"]
        self.assertEqual((labels.get("job"), labels.get("instance"), labels.get("node")),
                         (JOB, self.values["$instance"], NODE))

    def test_every_panel_query_returns_data(self):
        targets = [(board, title, expr, substitute(expr, self.values))
                   for board, title, expr in panel_targets()]
        counts = self.counts_when_all_have_data(sorted({q for *_, q in targets}))
        rows = [(board, title, expr, counts[query]) for board, title, expr, query in targets]
        table = render_table(rows, self.values)
        print("\n" + table, file=sys.stderr)
        if os.environ.get("DASHBOARDS_WRITE_PANELS") == "1":
            (GRAFANA / "PANELS.md").write_text(table)
        empty = [f"{board}: {title}: {expr}" for board, title, expr, n in rows if not n]
        self.assertEqual(empty, [], "queries without data")

    # Datadog's OpenMetrics check reads /metrics with this parser (Debian's
    # python3-prometheus-client, for Debian's own interpreter).
    def test_the_python_prometheus_client_parser_reads_the_metrics(self):
        python = require_tool(self, "/usr/bin/python3")
        parse = ("import sys\nfrom prometheus_client.parser import text_string_to_metric_families\n"
                 "families = list(text_string_to_metric_families(sys.stdin.read()))\n"
                 "print(len(families), sum(len(f.samples) for f in families))\n")
        result = subprocess.run([python, "-c", parse], input=self.agent.metrics(),
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        families, samples = map(int, result.stdout.split())
        self.assertGreater(families, 100, "every exporter's families")
        self.assertGreater(samples, families)

    # The Flagger template's query, its variables filled in, gives exactly one value.
    def test_the_flagger_query_returns_one_value(self):
        text = FLAGGER.read_text()
        query = text[text.index("query: |") + len("query: |"):]
        query = (query.replace("{{ namespace }}", FLAGGER_NAMESPACE)
                 .replace("{{ target }}", FLAGGER_TARGET).replace("{{ interval }}", "1m"))
        result = []
        deadline = time.monotonic() + DATA_TIMEOUT
        while not result and time.monotonic() < deadline:
            result = self.prom.query(query)
            time.sleep(0.2 if not result else 0)
        self.assertEqual(len(result), 1, result)
        self.assertEqual(float(result[0]["value"][1]), 100.0)  # the canary's port accepts

    def test_every_alert_expression_returns_data(self):
        alerts = [r for r in rules_check.read_rules(RULES.read_text()) if r["kind"] == "alert"]
        self.assertGreaterEqual(len(alerts), 16)
        queries = {}
        for alert in alerts:
            key = f"{alert['name']} (line {alert['line']})"
            queries[key] = EXPLICIT_ALERTS.get(alert["name"]) or without_comparison(alert["expr"])
        counts = self.counts_when_all_have_data(sorted(set(queries.values())))
        lines = [f"| {key} | `{q}` | {counts[q]} |" for key, q in queries.items()]
        print("\n| alert | without its comparison | series |\n|---|---|---|\n"
              + "\n".join(lines), file=sys.stderr)
        self.assertEqual([k for k, q in queries.items() if not counts[q]], [],
                         "alert expressions without data")


def render_table(rows, values):
    out = ["# Dashboard panels and the queries proven to return data", "",
           "Written by `DASHBOARDS_WRITE_PANELS=1 python3 -m unittest -v dashboards_test` "
           "(tests/integration). Each query ran against a real sre-agent scraped every second by "
           "Prometheus with `dashboards/prometheus/rules.yml` loaded, with "
           + ", ".join(f"`{k}` = `{v}`" for k, v in {**values, **INTERVALS}.items()
                       if k != "$instance")
           + " and `$instance` = the agent's address (`127.0.0.1:PORT`)"
           + "; `series` is how many series it returned with a value (not NaN).", ""]
    current = None
    for board, title, expr, count in rows:
        if board != current:
            out += ["", f"## {board}", "", "| panel | query | series |", "|---|---|---|"]
            current = board
        out.append(f"| {title} | `{expr.replace('|', chr(92) + '|')}` | {count} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    unittest.main()
