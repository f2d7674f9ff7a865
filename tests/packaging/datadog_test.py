#!/usr/bin/env python3
"""Checks dashboards/datadog/ against the agent (standard library only):

- every *.json dashboard parses, and every metric its widget queries use is
  sre_agent.<name>[.count|.sum|.bucket], where <name> is a series the agent exports (a string
  literal of agent/ or exporters/ sources, or a series of exporters/*/testdata/*.prom) and the
  suffix fits its type as the OpenMetrics check names it: a gauge has no suffix, a counter X_total
  (or X of TYPE counter) is X.count, a histogram X has X.count, X.sum, X.bucket;
- conf.d/openmetrics.d/conf.yaml and the DaemonSet's ad.datadoghq.com/sre-agent.checks annotation
  describe the same instance (namespace, metrics, max_returned_metrics; the endpoint differs
  only in its host: localhost on a host, %%host%% in Kubernetes).
"""
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "dashboards/prometheus"))
import check as rules_check  # noqa: E402  (the one list of what the agent exports)
DATADOG = ROOT / "dashboards/datadog"
NAMESPACE = "sre_agent"
failures = []


def check(ok, message):
    if not ok:
        failures.append(message)


def queries(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("query", "q") and isinstance(value, str):
                yield value
            else:
                yield from queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from queries(item)


def check_metric(metric, names, where):
    name = metric[len(NAMESPACE) + 1:]
    suffix = None
    m = re.fullmatch(r"(.+)\.(count|sum|bucket)", name)
    if m:
        name, suffix = m.groups()
    if "." in name:
        check(False, f"{where}: {metric}: unexpected '.' in the name")
        return
    if suffix is None:
        check(name in names, f"{where}: {metric}: the agent exports no {name}")
        check(names.get(name) not in ("counter", "histogram", "summary") and
              not name.endswith("_total"),
              f"{where}: {metric}: {name} is a {names.get(name) or 'counter'}; the check names "
              f"it {NAMESPACE}.{re.sub(r'_total$', '', name)}.count")
    elif suffix == "count" and f"{name}_total" in names:
        check(names[f"{name}_total"] in (None, "counter"),
              f"{where}: {metric}: {name}_total is a {names[f'{name}_total']}")
    else:
        kind = names.get(name)
        ok = (name in names and
              ((suffix == "count" and kind in ("counter", "histogram", "summary")) or
               (suffix in ("sum", "bucket") and kind in ("histogram", "summary"))))
        check(ok, f"{where}: {metric}: the agent exports no counter {name}_total or {name} of a "
                  f"type with .{suffix} (found: {kind if name in names else 'nothing'})")


def check_dashboards(names):
    boards = sorted(DATADOG.glob("*.json"))
    check(boards, "no dashboards/datadog/*.json")
    for board in boards:
        where = board.relative_to(ROOT)
        try:
            data = json.loads(board.read_text())
        except json.JSONDecodeError as e:
            check(False, f"{where}: not JSON: {e}")
            continue
        check(bool(data.get("title")) and data.get("layout_type") in ("ordered", "free") and
              data.get("widgets"),
              f"{where}: not a Datadog dashboard (title, layout_type, widgets)")
        variables = {v["name"] for v in data.get("template_variables", [])}
        qs = list(queries(data))
        check(qs, f"{where}: no widget queries")
        metrics = set()
        for q in qs:
            for var in re.findall(r"\$(\w+)", q):
                check(var in variables, f"{where}: {q}: no template variable ${var}")
            found = re.findall(r"(?:avg|sum|min|max|count):([\w.]+)\{", q)
            check(found, f"{where}: {q}: no metric found")
            for metric in found:
                check(metric.startswith(NAMESPACE + "."),
                      f"{where}: {metric} is outside the {NAMESPACE} namespace")
                metrics.add(metric)
        for metric in sorted(metrics):
            if metric.startswith(NAMESPACE + "."):
                check_metric(metric, names, where)
        print(f"ok: {where}: {len(qs)} queries, {len(metrics)} metrics")


def annotation_instance():
    text = (ROOT / "packaging/kubernetes/base/daemonset.yaml").read_text()
    m = re.search(r"^(\s*)ad\.datadoghq\.com/sre-agent\.checks: \|\n((?:\1\s+.*\n)+)", text, re.M)
    if not m:
        check(False, "daemonset.yaml: no ad.datadoghq.com/sre-agent.checks annotation")
        return None
    try:
        checks = json.loads(m.group(2))
    except json.JSONDecodeError as e:
        check(False, f"daemonset.yaml: the Datadog annotation is not JSON: {e}")
        return None
    return checks.get("openmetrics", {}).get("instances", [None])[0]


def conf_instance():
    """The first instance of conf.yaml, read by pattern (it is kept to plain `key: value` lines)."""
    text = (DATADOG / "conf.d/openmetrics.d/conf.yaml").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    text = "\n".join(re.sub(r"\s+#.*", "", line) for line in lines)
    inst = {}
    for key in ("openmetrics_endpoint", "namespace", "max_returned_metrics"):
        m = re.search(rf"^\s*-?\s*{key}: (\S+)\s*$", text, re.M)
        if m:
            value = m.group(1)
            inst[key] = int(value) if value.isdigit() else value.strip("'\"")
    m = re.search(r"^\s*metrics:\s*\n((?:\s+- .*\n?)+)", text, re.M)
    if m:
        items = m.group(1).splitlines()
        inst["metrics"] = [item.split("- ", 1)[1].strip().strip("'\"") for item in items]
    return inst


def check_instances():
    ann, conf = annotation_instance(), conf_instance()
    if ann is None:
        return
    check(ann.get("openmetrics_endpoint") == "http://%%host%%:8944/metrics",
          f"annotation endpoint {ann.get('openmetrics_endpoint')}")
    check(conf.get("openmetrics_endpoint") == "http://localhost:8944/metrics",
          f"conf.yaml endpoint {conf.get('openmetrics_endpoint')}")
    for key in ("namespace", "metrics", "max_returned_metrics"):
        check(ann.get(key) == conf.get(key),
              f"{key}: the annotation has {ann.get(key)!r}, conf.yaml {conf.get(key)!r}")
    check(conf.get("namespace") == NAMESPACE,
          f"namespace {conf.get('namespace')}, want {NAMESPACE}")
    print("ok: conf.yaml and the DaemonSet's annotation describe the same instance")


def main():
    check_dashboards(rules_check.exported_metrics())
    check_instances()
    for f in failures:
        print(f"FAIL: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
