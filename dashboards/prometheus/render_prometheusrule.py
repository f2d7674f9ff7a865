#!/usr/bin/env python3
"""Renders rules.yml as a prometheus-operator PrometheusRule: prometheusrule.yml.

A rule file's top level (`groups:`) is exactly a PrometheusRule's `spec`, so the rendering is
rules.yml indented by two spaces under `spec:`, comments included. Indenting a block-style YAML
document keeps its meaning as long as it has no document markers, directives, tabs or block
scalars with an explicit indentation indicator (`|2`); those are refused. No YAML library needed.

    python3 render_prometheusrule.py           # rewrite prometheusrule.yml
    python3 render_prometheusrule.py --check   # exit 1 if prometheusrule.yml is out of date
"""

import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
RULES = HERE / "rules.yml"
OUTPUT = HERE / "prometheusrule.yml"

HEADER = """\
# Generated from rules.yml by render_prometheusrule.py: edit rules.yml, then run
# `python3 dashboards/prometheus/render_prometheusrule.py`. The rules' comments are kept.
# Add the labels your Prometheus' ruleSelector matches (kube-prometheus-stack: release: <name>).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: sre-agent
  labels:
    app.kubernetes.io/name: sre-agent
    app.kubernetes.io/component: rules
spec:
"""

_UNSAFE = [
    (re.compile(r"^(---|\.\.\.)(\s|$)"), "a document marker"),
    (re.compile(r"^%"), "a directive"),
    (re.compile(r"\t"), "a tab"),
    (re.compile(r":\s+[|>][-+]?[1-9]"), "an explicit indentation indicator"),
]


def render(rules_text: str) -> str:
    """The PrometheusRule for a rule file's text; ValueError if the text cannot be indented."""
    lines = rules_text.splitlines()
    for number, line in enumerate(lines, 1):
        for pattern, what in _UNSAFE:
            if pattern.search(line):
                raise ValueError(f"rules.yml:{number}: {what} cannot be nested under spec:")
    if not any(line.startswith("groups:") for line in lines):
        raise ValueError("rules.yml: no top-level `groups:`")
    body = "".join(f"  {line}\n" if line.strip() else "\n" for line in lines)
    return HEADER + body


def main(argv) -> int:
    expected = render(RULES.read_text())
    if argv[1:] == ["--check"]:
        if OUTPUT.read_text() != expected:
            print(f"{OUTPUT.name} is out of date: run python3 {pathlib.Path(__file__).name}")
            return 1
        return 0
    if argv[1:]:
        print("usage: render_prometheusrule.py [--check]", file=sys.stderr)
        return 3
    OUTPUT.write_text(expected)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
