#!/usr/bin/env python3
"""Lint of dashboards/prometheus, run by ctest as `prometheus_rules` (label lint).

1. every alert has a severity, a summary, a description and a runbook_url that names its
   docs/runbooks/<alertname>.md (one base URL for all), which exists; every runbook belongs to
   an alert; every alert and recording rule appears in tests/*.yml;
2. every metric and label name in rules.yml and the Flagger query is exported by the agent: a
   string literal in agent/ or exporters/ sources (tests left out) or a series of a golden file
   (exporters/*/testdata/*.prom). A renamed metric fails here;
3. prometheusrule.yml is what render_prometheusrule.py makes of rules.yml;
4. promtool check rules rules.yml, promtool test rules tests/*.yml, and the Flagger query with
   sample values through a generated promtool test.

Standard library only. Without promtool: a failure when CI=true, else steps 1-3 run and the test
is reported as skipped (exit 77), loudly.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PROMETHEUS_OWN = {"up"}  # the series Prometheus adds to every target
TARGET_LABELS = {"job", "instance"}  # the labels it adds
SKIP = 77

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(HERE))
import render_prometheusrule  # noqa: E402


# --- Reading the YAML we write (block style, one key per line), without a YAML library.

def _indent(line):
    return len(line) - len(line.lstrip(" "))


def _scalar(lines, i):
    """The value of the `key: value` at lines[i]: plain, quoted, or a block scalar (| > |- >-)."""
    value = lines[i].split(":", 1)[1].strip()
    if value[:1] in "|>" and value.rstrip("-+") in ("|", ">"):
        block = []
        for line in lines[i + 1:]:
            if line.strip() and _indent(line) <= _indent(lines[i]):
                break
            block.append(line)
        while block and not block[-1].strip():
            block.pop()
        depth = min(_indent(line) for line in block if line.strip())
        text = [line[depth:] for line in block]
        return "\n".join(text) if value[0] == "|" else " ".join(t.strip() for t in text)
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def read_rules(text):
    """[{kind, name, expr, severity, summary, description, runbook_url}] in file order."""
    lines = text.splitlines()
    rules = []
    for i, line in enumerate(lines):
        start = re.match(r"^\s*- (alert|record):\s*(\S+)", line)
        if start:
            rules.append({"kind": start.group(1), "name": start.group(2), "line": i + 1})
            continue
        key = re.match(r"^\s+(expr|severity|summary|description|runbook_url):", line)
        if key and rules:
            rules[-1][key.group(1)] = _scalar(lines, i)
    return rules


def read_block(text, key):
    """The value of the first `key:` line of a file."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"^\s*{key}:", line):
            return _scalar(lines, i)
    raise ValueError(f"no {key}: found")


# --- Metric names in PromQL.

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
             "bool", "offset", "inf", "nan", "sum", "min", "max", "avg", "count", "group",
             "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values"}


def metric_names(expr):
    """Metric names an expression selects (functions, keywords and label names left out)."""
    text = re.sub(r"\{\{.*?\}\}", "", expr)                       # Flagger's {{ interval }}
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', "", text)  # strings
    text = re.sub(r"\[[^\]]*\]", "", text)                          # ranges, subqueries
    text = re.sub(r"\{[^}]*\}", "", text)                           # label matchers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        name = match.group(0)
        is_call = re.match(r"\s*\(", text[match.end():])
        if not is_call and name.lower() not in _KEYWORDS:
            names.add(name)
    return names


def label_names(expr):
    """Label names an expression matches on or groups by."""
    text = re.sub(r"\{\{.*?\}\}", "", expr)
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', text)
    names = set()
    for matchers in re.findall(r"\{([^}]*)\}", text):
        names.update(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", matchers))
    for group in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)",
                            text):
        names.update(n.strip() for n in group.split(",") if n.strip())
    return names


def exported_metrics():
    """{name: type or None} the agent can export: string literals of its sources (typed where a
    MetricSet call names it), and the series of the golden files (typed by their # TYPE)."""
    names = {}
    for top in ("agent", "exporters"):
        for path in (ROOT / top).rglob("*"):
            if path.suffix not in (".cc", ".h") or path.name.endswith("_test.cc"):
                continue
            if path.name.startswith("fake_"):
                continue
            text = path.read_text()
            for name in re.findall(r'"([a-zA-Z_:][a-zA-Z0-9_:]*)"', text):
                names.setdefault(name, None)
            typed = r'\.(Gauge|Counter|Histogram|Summary)\(\s*"([a-z_:][a-z0-9_:]*)"'
            for kind, name in re.findall(typed, text):
                names[name] = kind.lower()
    for path in ROOT.glob("exporters/*/testdata/*.prom"):
        for line in path.read_text().splitlines():
            typed = re.match(r"# TYPE (\S+) (\S+)", line)
            if typed:
                names[typed.group(1)] = typed.group(2)
            elif line and not line.startswith("#"):
                names.setdefault(re.split(r"[{ ]", line, maxsplit=1)[0], None)
    return names


def exported_names():
    """The names alone."""
    return set(exported_metrics())


def is_exported(name, exported):
    if name in exported:
        return True
    base = re.sub(r"_(bucket|count|sum)$", "", name)
    return base != name and base in exported


# --- The checks.

def check_rules(rules, failures):
    alerts = sorted({r["name"] for r in rules if r["kind"] == "alert"})
    tests_text = "\n".join(p.read_text() for p in sorted(HERE.glob("tests/*.yml")))
    tested_alerts = set(re.findall(r"alertname:\s*(\w+)", tests_text))
    bases = set()  # where the runbooks are: one repository for every alert (a fork's, say)
    for rule in rules:
        where = f"rules.yml:{rule['line']}: {rule['name']}"
        if "expr" not in rule:
            failures.append(f"{where}: no expr")
        if rule["kind"] == "record":
            if rule["name"] not in tests_text:
                failures.append(f"{where}: recording rule not used in tests/*.yml")
            continue
        for key in ("severity", "summary", "description", "runbook_url"):
            if not rule.get(key):
                failures.append(f"{where}: no {key}")
        if rule.get("severity") not in ("critical", "warning", "info"):
            failures.append(f"{where}: severity {rule.get('severity')!r}")
        url = rule.get("runbook_url", "")
        suffix = f"/docs/runbooks/{rule['name']}.md"
        if not url.endswith(suffix):
            failures.append(f"{where}: runbook_url should end in {suffix}")
        bases.add(url[:-len(suffix)] if url.endswith(suffix) else url)
        if rule["name"] not in tested_alerts:
            failures.append(f"{where}: no alert_rule_test in tests/*.yml")
    if len(bases) > 1:
        failures.append(f"rules.yml: runbook_url points at several places: {sorted(bases)}")
    runbooks = {p.stem for p in (ROOT / "docs/runbooks").glob("*.md") if p.name != "README.md"}
    for alert in alerts:
        if alert not in runbooks:
            failures.append(f"docs/runbooks/{alert}.md is missing")
    for orphan in sorted(runbooks - set(alerts)):
        failures.append(f"docs/runbooks/{orphan}.md has no alert in rules.yml")
    print(f"rules: {len(alerts)} alerts, {len(rules) - sum(r['kind'] == 'alert' for r in rules)}"
          " recording rules; annotations, runbooks and tests checked")


def check_names(rules, flagger_query, failures):
    exported = exported_names()
    recorded = {r["name"] for r in rules if r["kind"] == "record"}
    uses = [(f"rules.yml: {r['name']}", r.get("expr", ""),
             r.get("summary", "") + r.get("description", "")) for r in rules]
    uses.append(("flagger-metric-template.yml", flagger_query, ""))
    count = 0
    for where, expr, annotations in uses:
        for name in sorted(metric_names(expr)):
            count += 1
            if ":" in name:
                if name not in recorded:
                    failures.append(f"{where}: {name} is not a recording rule of rules.yml")
            elif name not in PROMETHEUS_OWN and not is_exported(name, exported):
                failures.append(f"{where}: metric {name} is not exported by the agent (not in "
                                "agent/, exporters/ or exporters/*/testdata/*.prom)")
        labels = label_names(expr) | set(re.findall(r"\$labels\.(\w+)", annotations))
        for label in sorted(labels):
            count += 1
            if label not in TARGET_LABELS and label not in exported:
                failures.append(f"{where}: label {label} is not one the agent exports")
    print(f"names: {count} uses of metric and label names checked against {len(exported)} "
          "names in the agent's code and golden files")


def check_rendering(failures):
    expected = render_prometheusrule.render((HERE / "rules.yml").read_text())
    if (HERE / "prometheusrule.yml").read_text() != expected:
        failures.append("prometheusrule.yml is out of date: run "
                        "python3 dashboards/prometheus/render_prometheusrule.py")
    else:
        print("prometheusrule.yml: up to date with rules.yml")


def run(command, failures):
    print("$ " + " ".join(command), flush=True)
    result = subprocess.run(command, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=300)
    print(result.stdout.rstrip())
    if result.returncode != 0:
        failures.append(f"{' '.join(command)} exited {result.returncode}")
    return result.stdout


def flagger_test(query):
    """A promtool test of the Flagger query for namespace test, target podinfo, interval 1m:
    two agents probe test/podinfo-canary and one sees failures (75%); no failures at all (100);
    only another canary's check (no value, which Flagger counts as a failed check)."""
    rendered = (query.replace("{{ namespace }}", "test").replace("{{ target }}", "podinfo")
                .replace("{{ interval }}", "1m"))

    def series(name, check, instance, values, extra=""):
        host = check.split("/")[1]
        return {"series": f'{name}{{job="sre-agent",instance="{instance}",check="{check}",'
                          f'target="http://{host}.test/healthz",address="10.1.0.1"{extra}}}',
                "values": values}

    canary = [series("probe_attempts_total", "test/podinfo-canary", "node-1:8944", "0+1x40"),
              series("probe_attempts_total", "test/podinfo-canary", "node-2:8944", "0+1x40")]
    failing = series("probe_failures_total", "test/podinfo-canary", "node-1:8944", "0+0.5x40",
                     ',reason="status_mismatch"')
    other = [series("probe_attempts_total", "test/other-canary", "node-1:8944", "0+1x40")]

    def case(input_series, value):
        samples = [] if value is None else [{"labels": "{}", "value": value}]
        return {"interval": "15s", "input_series": input_series,
                "promql_expr_test": [{"expr": rendered, "eval_time": "5m",
                                      "exp_samples": samples}]}

    return {"rule_files": [], "evaluation_interval": "1m",
            "tests": [case(canary + [failing], 75), case(canary, 100), case(other, None)]}


def main():
    failures = []
    rules = read_rules((HERE / "rules.yml").read_text())
    flagger_query = read_block((HERE / "flagger-metric-template.yml").read_text(), "query")
    check_rules(rules, failures)
    check_names(rules, flagger_query, failures)
    check_rendering(failures)

    promtool = shutil.which("promtool")
    if not promtool:
        message = "promtool is not installed (run scripts/setup.sh test; Debian: prometheus)"
        if os.environ.get("CI") == "true":
            failures.append(message)
        else:
            for failure in failures:
                print("FAIL: " + failure)
            print(f"\n*** SKIPPING the promtool checks: {message} ***\n")
            return 1 if failures else SKIP
    else:
        output = run([promtool, "check", "rules", "rules.yml"], failures)
        found = re.search(r"(\d+) rules found", output)
        if found and int(found.group(1)) != len(rules):
            failures.append(f"promtool found {found.group(1)} rules, check.py read {len(rules)}")
        tests = sorted(str(p.relative_to(HERE)) for p in HERE.glob("tests/*.yml"))
        run([promtool, "test", "rules"] + tests, failures)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "flagger_test.yml")
            with open(path, "w") as f:
                json.dump(flagger_test(flagger_query), f, indent=1)  # JSON is YAML
            run([promtool, "test", "rules", path], failures)

    for failure in failures:
        print("FAIL: " + failure)
    print("prometheus rules: " + ("FAILED" if failures else "OK"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
