#!/usr/bin/env python3
"""Writes the Grafana dashboards of this folder (*.json) from the panel lists below, so every
dashboard has the same variables, selectors and layout. Standard library only.

    python3 generate.py           # rewrite the *.json files
    python3 generate.py --check   # exit 1 if a file differs from what this script writes

Every query selects `{job=~"$job",instance=~"$instance",node=~"$node"}` (SEL below) and uses only
series the agent exports, Prometheus' `up`, and the recording rules of ../prometheus/rules.yml.
`node` is a target label the Prometheus scrape config adds (README.md); where it is missing,
`node=~".*"` (the "All" value) matches the empty label. The recording rules aggregate `by (job,
instance, check, target)`, so their panels filter on job and instance only.
tests/integration/dashboards_test.py checks the structure and that every query returns data
from a real agent scraped by a real Prometheus; PANELS.md lists the queries it proved.
"""

import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
SEL = 'job=~"$job",instance=~"$instance",node=~"$node"'
JI = 'job=~"$job",instance=~"$instance"'  # for the recording rules (no node label)
DS = {"type": "prometheus", "uid": "${datasource}"}
RI = "$__rate_interval"
# A probe series of a tcp (or http_probe) check: `and on` the agent's own series of the check.
TCP = 'and on (job, instance, check) sre_agent_collect_last_timestamp_seconds{exporter="tcp"}'
HTTP = ('and on (job, instance, check) '
        'sre_agent_collect_last_timestamp_seconds{exporter="http_probe"}')
WIDTH = 24  # Grafana's grid


def panel(title, targets, kind="timeseries", unit=None, w=12, h=8, description="", **options):
    """One panel; `targets` is a list of (expr, legendFormat). ids and gridPos come later."""
    p = {"type": kind, "title": title, "datasource": DS, "description": description,
         "targets": [{"datasource": DS, "expr": expr, "legendFormat": legend,
                      "refId": chr(ord("A") + i), "instant": kind in ("table", "stat"),
                      "range": kind not in ("table", "stat")}
                     for i, (expr, legend) in enumerate(targets)],
         "fieldConfig": {"defaults": {}, "overrides": []}, "options": {}, "_w": w, "_h": h}
    if unit:
        p["fieldConfig"]["defaults"]["unit"] = unit
    if kind == "table":
        for t in p["targets"]:
            t["format"] = "table"  # one row per series, one column per label
    if kind == "timeseries" and options.get("stack"):
        p["fieldConfig"]["defaults"]["custom"] = {"stacking": {"mode": "normal"}, "fillOpacity": 30}
    if kind == "state-timeline":
        p["fieldConfig"]["defaults"]["mappings"] = [
            {"type": "value", "options": {"0": {"text": "ok", "color": "green"},
                                          "1": {"text": "violation", "color": "red"}}}]
    if options.get("thresholds"):
        p["fieldConfig"]["defaults"]["thresholds"] = {
            "mode": "absolute",
            "steps": [{"color": c, "value": v} for v, c in options["thresholds"]]}
    return p


def variables():
    def query_var(name, query, label):
        return {"type": "query", "name": name, "label": label, "datasource": DS,
                "query": {"query": query, "refId": f"{name}-variable"},
                "definition": query, "refresh": 2, "includeAll": True, "multi": True,
                "allValue": ".*", "current": {"selected": True, "text": ["All"],
                                              "value": ["$__all"]},
                "sort": 1, "hide": 0, "options": [], "regex": ""}
    return [
        {"type": "datasource", "name": "datasource", "label": "Data source", "query": "prometheus",
         "current": {}, "hide": 0, "refresh": 1, "regex": "", "options": []},
        query_var("job", 'label_values(sre_agent_build_info, job)', "Job"),
        query_var("instance", 'label_values(sre_agent_build_info{job=~"$job"}, instance)',
                  "Instance"),
        query_var("node", 'label_values(sre_agent_build_info{job=~"$job",instance=~"$instance"}, '
                  'node)', "Node"),
    ]


def layout(panels):
    """Left to right, top to bottom; ids from 1."""
    x = y = row_h = 0
    out = []
    for i, p in enumerate(panels, 1):
        w, h = p.pop("_w"), p.pop("_h")
        if x + w > WIDTH:
            x, y, row_h = 0, y + row_h, 0
        p = {"id": i, "gridPos": {"x": x, "y": y, "w": w, "h": h}, **p}
        x += w
        row_h = max(row_h, h)
        out.append(p)
    return out


def dashboard(uid, title, description, panels):
    return {
        "uid": uid, "title": title, "description": description,
        "tags": ["sre-agent"], "timezone": "", "editable": True, "graphTooltip": 1,
        "schemaVersion": 39, "version": 1, "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "links": [{"type": "dashboards", "tags": ["sre-agent"], "asDropdown": True,
                   "title": "sre-agent", "includeVars": True, "keepTime": True}],
        "annotations": {"list": []},
        "templating": {"list": variables()},
        "panels": layout(panels),
    }


OVERVIEW = dashboard("sre-agent-overview", "sre-agent / Overview",
                     "What is failing now, open SLA violations and the agent's own alerts.", [
    panel("Agents up", [(f"up{{{SEL}}}", "{{instance}} {{node}}")], "stat", w=6, h=4,
          thresholds=[(None, "red"), (1, "green")]),
    panel("Failing checks",
          [(f"sum(1 - sre_agent_collect_success{{{SEL}}} - sre_agent_collect_absent{{{SEL}}})",
            "failing")], "stat", w=6, h=4, thresholds=[(None, "green"), (1, "red")],
          description="Checks whose last run failed; a service not on the node (absent) is not "
                      "a failure."),
    panel("Open SLA violations", [(f"sum(probe_sla_violation_open{{{SEL}}})", "open")], "stat",
          w=6, h=4, thresholds=[(None, "green"), (1, "red")]),
    panel("Firing alerts (agent rules)",
          [(f'count(sre_agent_alerts{{{SEL},alertstate="firing"}})', "firing")], "stat", w=6,
          h=4, thresholds=[(None, "green"), (1, "red")]),
    panel("Checks failing now",
          [(f"sre_agent_collect_success{{{SEL}}} == 0 unless on (job, instance, exporter, check) "
            f"sre_agent_collect_absent{{{SEL}}} == 1", "")], "table", w=12,
          description="Every check whose last run failed, with its exporter."),
    panel("Probe failures now, by reason", [(f"probe_failure_info{{{SEL}}}", "")], "table", w=12,
          description="tcp and http_probe addresses failing now, and why."),
    panel("SLA violations open", [(f"probe_sla_violation_open{{{SEL}}}",
                                   "{{instance}} {{check}}")], "state-timeline", w=12),
    panel("SLA violations opened in the range",
          [(f"sum by (job, instance, check) (increase(probe_sla_violations_total{{{SEL}}}"
            f"[$__range]))", "")], "table", w=12),
    panel("Agent alerts by state",
          [(f"sum by (alertname, alertstate) (sre_agent_alerts{{{SEL}}})",
            "{{alertname}} {{alertstate}}")], w=12),
    panel("Agent alerts", [(f"sre_agent_alerts{{{SEL}}}", "")], "table", w=12,
          description="Alerts of the agent's own rules (alerting: in its config), pending or "
                      "firing."),
    panel("Absent services by exporter",
          [(f"sum by (exporter) (sre_agent_collect_absent{{{SEL}}})", "{{exporter}}")], "bargauge",
          w=12, description="Checks of services this node does not run (not failures)."),
    panel("Check runs failing per second, by exporter",
          [(f"sum by (exporter) (rate(sre_agent_collect_errors_total{{{SEL}}}[{RI}]))",
            "{{exporter}}")], w=12),
])

PHP_FPM = dashboard("sre-agent-php-fpm", "sre-agent / PHP-FPM",
                    "php-fpm pools read by the agent's php_fpm exporter (hipages names).", [
    panel("Pools up", [(f"phpfpm_up{{{SEL}}}", "{{instance}} {{pool}}")], "stat", w=8, h=4,
          thresholds=[(None, "red"), (1, "green")]),
    panel("Listen queue", [(f"phpfpm_listen_queue{{{SEL}}}", "{{instance}} {{pool}}")], w=8,
          h=8, description="Requests waiting for a worker (TCP listeners only)."),
    panel("Max listen queue", [(f"phpfpm_max_listen_queue{{{SEL}}}", "{{instance}} {{pool}}")],
          w=8, h=8),
    panel("Processes by state",
          [(f"sum by (job, instance, pool, state) (phpfpm_processes_by_state{{{SEL}}})",
            "{{pool}} {{state}}")], w=12, stack=True),
    panel("Active, idle and total processes",
          [(f"sum by (job, instance, pool) (phpfpm_active_processes{{{SEL}}})",
            "{{pool}} active"),
           (f"sum by (job, instance, pool) (phpfpm_idle_processes{{{SEL}}})", "{{pool}} idle"),
           (f"sum by (job, instance, pool) (phpfpm_total_processes{{{SEL}}})", "{{pool}} total")],
          w=12),
    panel("Accepted requests per second",
          [(f"sum by (job, instance, pool) (rate(phpfpm_accepted_connections{{{SEL}}}[{RI}]))",
            "{{instance}} {{pool}}")], unit="reqps", w=12),
    panel("Slow requests per second",
          [(f"sum by (job, instance, pool) (rate(phpfpm_slow_requests{{{SEL}}}[{RI}]))",
            "{{instance}} {{pool}}")], unit="reqps", w=12,
          description="Requests over request_slowlog_timeout."),
    panel("pm.max_children reached",
          [(f"sum by (job, instance, pool) (increase(phpfpm_max_children_reached{{{SEL}}}"
            f"[{RI}]))", "{{instance}} {{pool}}")], w=12),
    panel("Status page read time",
          [(f"phpfpm_scrape_duration_seconds{{{SEL}}}", "{{instance}} {{pool}}")], unit="s",
          w=12),
])

POSTFIX = dashboard("sre-agent-postfix", "sre-agent / Postfix",
                    "Postfix queues (showq) and delivery outcomes (mail log) from the agent's "
                    "postfix exporter.", [
    panel("Sources up", [(f"postfix_up{{{SEL}}}", "{{instance}} {{path}}")], "stat", w=24, h=4,
          thresholds=[(None, "red"), (1, "green")]),
    panel("Queue depth", [(f"sum by (job, instance, queue) (postfix_showq_queue_depth{{{SEL}}})",
                           "{{instance}} {{queue}}")], w=12),
    panel("Oldest message per queue",
          [(f"max by (job, instance, queue) (postfix_showq_oldest_message_age_seconds{{{SEL}}})",
            "{{instance}} {{queue}}")], unit="s", w=12),
    panel("Deliveries per second, by outcome",
          [(f"sum by (job, instance, status) "
            f"(rate(postfix_smtp_messages_processed_total{{{SEL}}}[{RI}]))",
            "{{instance}} {{status}}")], unit="ops", w=12, stack=True),
    panel("Deferred deliveries per second, by DSN",
          [(f"sum by (job, instance, dsn) "
            f"(rate(postfix_smtp_deferred_messages_by_dsn_total{{{SEL}}}[{RI}]))",
            "{{instance}} {{dsn}}")], unit="ops", w=12),
    panel("Messages received and removed per second",
          [(f"sum by (job, instance) (rate(postfix_cleanup_messages_processed_total{{{SEL}}}"
            f"[{RI}]))", "{{instance}} received (cleanup)"),
           (f"sum by (job, instance) (rate(postfix_qmgr_messages_removed_total{{{SEL}}}[{RI}]))",
            "{{instance}} removed (qmgr)")], unit="ops", w=12),
    panel("SMTP connections per second",
          [(f"sum by (job, instance) (rate(postfix_smtpd_connects_total{{{SEL}}}[{RI}]))",
            "{{instance}} connects")], unit="ops", w=12),
])

DATABASES = dashboard("sre-agent-databases", "sre-agent / Database endpoints",
                      "TCP checks (tcp exporter): can each address of each endpoint be reached, "
                      "and how fast.", [
    panel("Reachable now", [(f"probe_success{{{SEL}}} {TCP}", "{{check}} {{address}}")],
          "table", w=12),
    panel("Success ratio (5m)",
          [(f"check:probe_success:ratio_rate5m{{{JI}}} {TCP}", "{{instance}} {{check}}")],
          unit="percentunit", w=12),
    panel("Success by check and address",
          [(f"probe_success{{{SEL}}} {TCP}", "{{instance}} {{check}} {{address}}")], w=12),
    panel("Connect time",
          [(f'probe_tcp_duration_seconds{{{SEL},phase="connect"}}',
            "{{instance}} {{check}} {{address}}")], unit="s", w=12),
    panel("Connect time p95 (successful attempts)",
          [(f"histogram_quantile(0.95, sum by (job, instance, check, address, le) "
            f"(rate(probe_tcp_connect_duration_seconds_bucket{{{SEL}}}[{RI}])))",
            "{{instance}} {{check}} {{address}}")], unit="s", w=12),
    panel("Failed attempts per second, by reason",
          [(f"sum by (job, instance, check, address, reason) "
            f"(rate(probe_failures_total{{{SEL}}}[{RI}])) {TCP}",
            "{{instance}} {{check}} {{address}} {{reason}}")], unit="ops", w=12),
])

FLUENTD = dashboard("sre-agent-fluentd", "sre-agent / Fluentd",
                    "Fluentd outputs from monitor_agent (fluent-plugin-prometheus names).", [
    panel("monitor_agent up", [(f"fluentd_up{{{SEL}}}", "{{instance}} worker {{worker}}")],
          "stat", w=24, h=4, thresholds=[(None, "red"), (1, "green")]),
    panel("Buffer bytes",
          [(f"sum by (job, instance, plugin_id, worker) "
            f"(fluentd_output_status_buffer_total_bytes{{{SEL}}})",
            "{{instance}} {{plugin_id}} {{worker}}")], unit="bytes", w=12),
    panel("Buffer queue length",
          [(f"sum by (job, instance, plugin_id, worker) "
            f"(fluentd_output_status_buffer_queue_length{{{SEL}}})",
            "{{instance}} {{plugin_id}} {{worker}}")], w=12),
    panel("Buffer space free",
          [(f"fluentd_output_status_buffer_available_space_ratio{{{SEL}}}",
            "{{instance}} {{plugin_id}} {{worker}}")], unit="percent", w=12),
    panel("Retries per second",
          [(f"sum by (job, instance, plugin_id, worker) "
            f"(rate(fluentd_output_status_retry_count{{{SEL}}}[{RI}]))",
            "{{instance}} {{plugin_id}} {{worker}}")], unit="ops", w=12),
    panel("Retry wait", [(f"fluentd_output_status_retry_wait{{{SEL}}}",
                          "{{instance}} {{plugin_id}} {{worker}}")], unit="s", w=12,
          description="From the first failure of the current retry sequence to the next try "
                      "(needs include_retry true)."),
    panel("Failed flushes in the current retry sequence",
          [(f"fluentd_output_status_retry_steps{{{SEL}}}",
            "{{instance}} {{plugin_id}} {{worker}}")], w=12),
    panel("Records emitted per second",
          [(f"sum by (job, instance, plugin_id) "
            f"(rate(fluentd_output_status_emit_records{{{SEL}}}[{RI}]))",
            "{{instance}} {{plugin_id}}")], unit="ops", w=12),
    panel("Chunks rolled back per second",
          [(f"sum by (job, instance, plugin_id) "
            f"(rate(fluentd_output_status_rollback_count{{{SEL}}}[{RI}]))",
            "{{instance}} {{plugin_id}}")], unit="ops", w=12),
])

RATIO_RAW = ("1 - (sum by (job, instance, check, target) (increase(probe_failures_total{{{s}}}"
             "[$__range])) or sum by (job, instance, check, target) "
             "(increase(probe_attempts_total{{{s}}}[$__range])) * 0) / sum by (job, instance, "
             "check, target) (increase(probe_attempts_total{{{s}}}[$__range]))").format(s=SEL)

SLA = dashboard("sre-agent-sla", "sre-agent / SLA probes",
                "HTTP probes (http_probe exporter): success ratio, phases, certificates and "
                "SLA violations.", [
    panel("Success ratio (1h)",
          [(f"check:probe_success:ratio_rate1h{{{JI}}} {HTTP}", "{{instance}} {{check}}")],
          "stat", unit="percentunit", w=8, h=5,
          thresholds=[(None, "red"), (0.99, "orange"), (0.999, "green")]),
    panel("Success ratio over the range (counters)", [(f"({RATIO_RAW}) {HTTP}",
                                                      "{{instance}} {{check}}")],
          "stat", unit="percentunit", w=8, h=5),
    panel("Time in violation over the range",
          [(f"increase(probe_sla_violation_seconds_total{{{SEL}}}[$__range])",
            "{{instance}} {{check}}")], "stat", unit="s", w=8, h=5),
    panel("Success ratio (5m)",
          [(f"check:probe_success:ratio_rate5m{{{JI}}} {HTTP}", "{{instance}} {{check}}")],
          unit="percentunit", w=12),
    panel("SLA violation timeline", [(f"probe_sla_violation_open{{{SEL}}}",
                                      "{{instance}} {{check}}")], "state-timeline", w=12),
    panel("Duration by phase",
          [(f"sum by (job, instance, check, phase) (probe_http_duration_seconds{{{SEL}}})",
            "{{check}} {{phase}}")], unit="s", w=12, stack=True),
    panel("Request duration p95",
          [(f"histogram_quantile(0.95, sum by (job, instance, check, le) "
            f"(rate(probe_http_request_duration_seconds_bucket{{{SEL}}}[{RI}])))",
            "{{instance}} {{check}}")], unit="s", w=12),
    panel("HTTP status", [(f"probe_http_status_code{{{SEL}}}",
                           "{{instance}} {{check}} {{address}}")], w=12),
    panel("Certificate expires in",
          [(f"min by (job, instance, check, target) (probe_ssl_earliest_cert_expiry{{{SEL}}}) "
            f"- time()", "{{instance}} {{check}}")], "table", unit="s", w=12),
    panel("Failures now, by reason", [(f"probe_failure_info{{{SEL}}} {HTTP}", "")], "table",
          w=12),
    panel("SLA violations opened in the range",
          [(f"increase(probe_sla_violations_total{{{SEL}}}[$__range])", "{{instance}} {{check}}")],
          "table", w=12),
])

AGENT = dashboard("sre-agent-self", "sre-agent / Agent",
                  "The agent itself: check runs, errors, skipped ticks, memory and CPU.", [
    panel("Build", [(f"sre_agent_build_info{{{SEL}}}", "")], "table", w=12, h=5),
    panel("Checks by exporter", [(f"sum by (exporter) (sre_agent_checks{{{SEL}}})",
                                  "{{exporter}}")], "bargauge", w=6, h=5),
    panel("Last reload successful", [(f"sre_agent_config_last_reload_successful{{{SEL}}}",
                                      "{{instance}}")], "stat", w=6, h=5,
          thresholds=[(None, "red"), (1, "green")]),
    panel("Collect duration by check",
          [(f"sre_agent_collect_duration_seconds{{{SEL}}}", "{{exporter}} {{check}}")], unit="s",
          w=12),
    panel("Time since last run",
          [(f"time() - sre_agent_collect_last_timestamp_seconds{{{SEL}}}",
            "{{exporter}} {{check}}")], unit="s", w=12),
    panel("Check runs per second",
          [(f"sum by (job, instance, exporter) (rate(sre_agent_collects_total{{{SEL}}}[{RI}]))",
            "{{instance}} {{exporter}}")], unit="ops", w=12),
    panel("Errors per second, by reason",
          [(f"sum by (job, instance, exporter, check, reason) "
            f"(rate(sre_agent_collect_errors_total{{{SEL}}}[{RI}]))",
            "{{exporter}} {{check}} {{reason}}")], unit="ops", w=12),
    panel("Skipped ticks",
          [(f"sum by (job, instance, exporter, check) "
            f"(increase(sre_agent_skipped_ticks_total{{{SEL}}}[{RI}]))",
            "{{exporter}} {{check}}")], w=12),
    panel("Start lateness p99",
          [(f"histogram_quantile(0.99, sum by (job, instance, le) "
            f"(rate(sre_agent_collect_start_lateness_seconds_bucket{{{SEL}}}[{RI}])))",
            "{{instance}}")], unit="s", w=12),
    panel("Memory", [(f"process_resident_memory_bytes{{{SEL}}}", "{{instance}} resident"),
                     (f"process_virtual_memory_bytes{{{SEL}}}", "{{instance}} virtual")],
          unit="bytes", w=12),
    panel("CPU", [(f"rate(process_cpu_seconds_total{{{SEL}}}[{RI}])", "{{instance}}")],
          unit="percentunit", w=12),
    panel("Open file descriptors",
          [(f"process_open_fds{{{SEL}}}", "{{instance}} open"),
           (f"process_max_fds{{{SEL}}}", "{{instance}} max")], w=12),
    panel("Uptime", [(f"time() - process_start_time_seconds{{{SEL}}}", "{{instance}}")], "stat",
          unit="s", w=12),
    panel("Rule evaluation",
          [(f"sre_agent_rule_evaluation_duration_seconds{{{SEL}}}", "{{instance}} duration"),
           (f"rate(sre_agent_rule_evaluations_total{{{SEL}}}[{RI}])",
            "{{instance}} evaluations/s")], w=12),
    panel("Log lines suppressed per second",
          [(f"rate(sre_agent_log_messages_suppressed_total{{{SEL}}}[{RI}])", "{{instance}}")],
          unit="ops", w=12),
    # Shared SLA probes (replicas: k): with every instance selected, the whole DaemonSet.
    panel("Agents running each shared probe",
          [(f"sum by (exporter, check) (sre_agent_probe_owned{{{SEL}}})", "{{check}} runs on"),
           (f"max by (exporter, check) (sre_agent_probe_replicas{{{SEL}}})",
            "{{check}} replicas")], w=12,
          description="Below replicas for long: SreAgentProbeUnderReplicated (docs/kubernetes.md)."),
    panel("Sharding members seen by each agent",
          [(f"sre_agent_members{{{SEL}}}", "{{instance}}")], w=12,
          description="Agents that disagree share probes unevenly until their watches agree."),
])

DASHBOARDS = {"overview": OVERVIEW, "php-fpm": PHP_FPM, "postfix": POSTFIX,
              "databases": DATABASES, "fluentd": FLUENTD, "sla": SLA, "agent": AGENT}


def rendered():
    """{file name: text} of every dashboard."""
    return {f"{name}.json": json.dumps(d, indent=2) + "\n" for name, d in DASHBOARDS.items()}


def main(argv):
    stale = []
    for name, text in rendered().items():
        path = HERE / name
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"out of date: {', '.join(stale)}; run python3 dashboards/grafana/generate.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
