#include "agent/alerting/payloads.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "agent/alerting/template.h"

namespace sre::alerting {
namespace {

using nlohmann::json;

// Labels, values and annotations come from configs and checks: dump() would throw on a stray
// invalid UTF-8 byte, replace keeps delivery going with U+FFFD instead.
std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

json LabelObject(const Labels& labels) {
  json object = json::object();
  for (const auto& label : labels) object[label.name] = label.value;
  return object;
}

json StringObject(const std::map<std::string, std::string>& map) {
  json object = json::object();
  for (const auto& [name, value] : map) object[name] = value;
  return object;
}

std::string Annotation(const Notification& n, const char* name) {
  auto it = n.annotations.find(name);
  return it == n.annotations.end() ? std::string() : it->second;
}

// Milliseconds since the epoch, rounded; 0 for what is not a time between 1970 and 9999.
int64_t ToMillis(double unix_seconds) {
  if (!std::isfinite(unix_seconds) || unix_seconds <= 0) return 0;
  return std::min<int64_t>(std::llround(std::min(unix_seconds, 253402300799.0) * 1000),
                           253402300799999);
}

std::string FormatMillis(int64_t millis) {
  const time_t seconds = millis / 1000;
  std::tm t{};
  gmtime_r(&seconds, &t);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", t.tm_year + 1900, t.tm_mon + 1,
                     t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, millis % 1000);
}

// For people: `2026-12-06 14:03:05 UTC`.
std::string HumanTime(double unix_seconds) {
  const std::string rfc3339 = Rfc3339Millis(unix_seconds);
  return rfc3339.substr(0, 10) + " " + rfc3339.substr(11, 8) + " UTC";
}

std::string HumanDuration(double seconds) {
  const int64_t s = std::isfinite(seconds) && seconds > 0 ? std::llround(seconds) : 0;
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m {}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h {}m", s / 3600, s % 3600 / 60);
  return fmt::format("{}d {}h", s / 86400, s % 86400 / 3600);
}

// At most `max_runes` code points, the last one `…` when something was cut (as Alertmanager's
// TruncateInRunes does for PagerDuty's summary). Never splits a UTF-8 sequence.
std::string TruncateRunes(std::string_view text, size_t max_runes) {
  size_t runes = 0, cut = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (runes == max_runes - 1) cut = i;
    if (++runes > max_runes) return std::string(text.substr(0, cut)) + "…";
  }
  return std::string(text);
}

// The labels that say where, compactly: every label but alertname and severity (which the
// headline shows), `name=value`, in label order.
std::string Where(const Labels& labels, std::string_view separator) {
  std::string out;
  for (const auto& label : labels) {
    if (label.name == "alertname" || label.name == "severity") continue;
    if (!out.empty()) out += separator;
    out += TruncateRunes(label.name + "=" + label.value, 120);
  }
  return out;
}

// Slack's mrkdwn control characters (docs: "Formatting text for app surfaces", escaping):
// only &, < and > are entity-encoded; anything else would show literally.
std::string SlackEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    const char* entity = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : nullptr;
    entity != nullptr ? out.append(entity) : out.append(1, c);
  }
  return out;
}

// `<url|label>`: a `|` or `>` in the URL would end it early.
std::string SlackLink(std::string_view url, std::string_view label) {
  std::string safe;
  for (char c : url) safe += c == '|' ? std::string("%7C") : std::string(1, c);
  return "<" + SlackEscape(safe) + "|" + SlackEscape(label) + ">";
}

json Mrkdwn(std::string text) { return {{"type", "mrkdwn"}, {"text", std::move(text)}}; }

std::string_view UrlHost(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  url.remove_prefix(scheme + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (auto at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  if (!url.empty() && url.front() == '[') return url.substr(0, url.find(']') + 1);
  return url.substr(0, url.rfind(':'));
}

// A target on this host says nothing a pager can act on: the node does.
bool IsLocalTarget(std::string_view target) {
  std::string_view host = UrlHost(target).empty() ? target : UrlHost(target);
  for (std::string_view local : {"127.", "localhost", "[::1]", "::1", "unix:", "/"}) {
    if (host.substr(0, local.size()) == local) return true;
  }
  return false;
}

// PagerDuty knows critical, error, warning, info (Events API v2, payload.severity). Common
// spellings map onto them; anything else, or no severity label, is "error", which is also
// Alertmanager's pagerduty_config default: a page should neither shout nor whisper by accident.
std::string_view PagerDutySeverity(std::string_view label) {
  std::string lower;
  for (char c : label) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::pair<std::string_view, std::vector<std::string_view>> kTable[] = {
      {"critical", {"critical", "crit", "fatal", "emergency", "page", "p1"}},
      {"error", {"error", "err", "major", "high", "p2"}},
      {"warning", {"warning", "warn", "minor", "medium", "p3"}},
      {"info", {"info", "informational", "notice", "low", "none", "p4", "p5"}}};
  for (const auto& [severity, spellings] : kTable) {
    if (std::find(spellings.begin(), spellings.end(), lower) != spellings.end()) return severity;
  }
  return "error";
}

// Go's %q of a string, enough for the groupKey Alertmanager prints as `{}:{alertname="X"}`.
std::string GoQuote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += {'\\', c};
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += c == '\n' ? std::string("\\n") : fmt::format("\\x{:02x}", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::string Rfc3339Millis(double unix_seconds) { return FormatMillis(ToMillis(unix_seconds)); }

// Alertmanager api/v2/openapi.yaml, postableAlerts: [postableAlert]; postableAlert: labels
// (required labelSet), annotations (labelSet), startsAt and endsAt (date-time), generatorURL
// (uri). endsAt follows Prometheus' sendAlerts: ResolvedAt when resolved, else ValidUntil.
std::string AlertmanagerBody(const std::vector<Notification>& batch, double now_unix,
                             Duration lease) {
  const int64_t now = ToMillis(now_unix);
  const int64_t lease_ms = std::chrono::duration_cast<std::chrono::milliseconds>(lease).count();
  json alerts = json::array();
  for (const auto& n : batch) {
    const int64_t starts = n.starts_at_unix > 0 ? ToMillis(n.starts_at_unix) : now;
    int64_t ends = n.firing ? now + lease_ms : ToMillis(n.resolved_at_unix);
    if (!n.firing && ends == 0) ends = now;
    // Alertmanager answers 400 "start time must be before end time" for the whole batch.
    ends = std::max(ends, starts);
    alerts.push_back({{"labels", LabelObject(n.labels)},
                      {"annotations", StringObject(n.annotations)},
                      {"startsAt", FormatMillis(starts)},
                      {"endsAt", FormatMillis(ends)},
                      {"generatorURL", n.generator_url}});
  }
  return Dump(alerts);
}

// Alertmanager docs/configuration.md, <webhook_config>: version "4", groupKey, truncatedAlerts,
// status, receiver, groupLabels, commonLabels, commonAnnotations, externalURL and alerts[] of
// status, labels, annotations, startsAt, endsAt, generatorURL, fingerprint.
std::string WebhookBody(const std::vector<Notification>& batch, std::string_view receiver,
                        std::string_view external_url) {
  json common_labels = batch.empty() ? json::object() : LabelObject(batch[0].labels);
  json common_annotations = batch.empty() ? json::object() : StringObject(batch[0].annotations);
  json alerts = json::array();
  bool any_firing = false;
  for (const auto& n : batch) {
    any_firing |= n.firing;
    const json labels = LabelObject(n.labels), annotations = StringObject(n.annotations);
    for (auto* common : {&common_labels, &common_annotations}) {
      const json& own = common == &common_labels ? labels : annotations;
      for (auto it = common->begin(); it != common->end();) {
        auto mine = own.find(it.key());
        it = mine != own.end() && *mine == *it ? std::next(it) : common->erase(it);
      }
    }
    alerts.push_back(
        {{"status", n.firing ? "firing" : "resolved"},
         {"labels", labels},
         {"annotations", annotations},
         {"startsAt", Rfc3339Millis(n.starts_at_unix)},
         // Alertmanager sends Go's zero time while an alert fires.
         {"endsAt", n.firing ? "0001-01-01T00:00:00Z" : Rfc3339Millis(n.resolved_at_unix)},
         {"generatorURL", n.generator_url},
         {"fingerprint", FingerprintHex(n.labels)}});
  }
  json group_labels = json::object();
  std::string group_key = "{}:{}";
  if (auto it = common_labels.find("alertname"); it != common_labels.end()) {
    group_labels["alertname"] = *it;
    group_key = "{}:{alertname=" + GoQuote(it->get<std::string>()) + "}";
  }
  return Dump({{"version", "4"},
               {"groupKey", group_key},
               {"truncatedAlerts", 0},
               {"status", any_firing ? "firing" : "resolved"},
               {"receiver", receiver},
               {"groupLabels", group_labels},
               {"commonLabels", common_labels},
               {"commonAnnotations", common_annotations},
               {"externalURL", external_url},
               {"alerts", alerts}});
}

// Slack incoming webhooks: a JSON body with `text` (shown, and the notification fallback) and
// optional `channel`; secondary `attachments` carry `color`, `fallback` and `blocks`. Block Kit
// limits: section text 3000 characters, fields at most 10 of 2000 each; the raw pieces are cut
// so that even fully escaped they stay under them.
std::string SlackBody(const Notification& n, std::string_view channel) {
  const std::string alertname(n.Label("alertname")), severity(n.Label("severity"));
  const std::string summary = Annotation(n, "summary"), description = Annotation(n, "description");
  const std::string where = Where(n.labels, " ");
  std::string headline = fmt::format("{} {}: {}", n.firing ? ":red_circle:" : ":white_check_mark:",
                                     n.firing ? "FIRING" : "RESOLVED", alertname);
  if (!severity.empty()) headline += " (" + severity + ")";
  if (!summary.empty()) headline += " - " + summary;
  if (!where.empty()) headline += " [" + where + "]";
  const std::string text = SlackEscape(TruncateRunes(headline, 500));

  json blocks = json::array();
  if (!summary.empty() || !description.empty()) {
    std::string body = summary.empty() ? "" : "*" + SlackEscape(TruncateRunes(summary, 200)) + "*";
    if (!description.empty()) {
      body += (body.empty() ? "" : "\n") + SlackEscape(TruncateRunes(description, 350));
    }
    blocks.push_back({{"type", "section"}, {"text", Mrkdwn(body)}});
  }
  json fields = json::array();
  std::string code;  // each label in its own code span, so values read verbatim
  for (const auto& label : n.labels) {
    if (label.name == "alertname" || label.name == "severity") continue;
    if (code.size() > 240) {
      code += " …";
      break;
    }
    std::string item = TruncateRunes(label.name + "=" + label.value, 120);
    std::replace(item.begin(), item.end(), '`', '\'');
    std::replace(item.begin(), item.end(), '\n', ' ');
    code += (code.empty() ? "`" : " `") + item + "`";
  }
  if (!code.empty()) fields.push_back(Mrkdwn("*Where*\n" + SlackEscape(code)));
  fields.push_back(
      Mrkdwn((n.firing ? "*Firing since*\n" : "*Started*\n") + HumanTime(n.starts_at_unix)));
  if (!n.firing) {
    fields.push_back(Mrkdwn(fmt::format("*Resolved*\n{}, after {}", HumanTime(n.resolved_at_unix),
                                        HumanDuration(n.resolved_at_unix - n.starts_at_unix))));
  }
  fields.push_back(Mrkdwn("*Value*\n" + SlackEscape(FormatGoFloat(n.value))));
  blocks.push_back({{"type", "section"}, {"fields", fields}});
  json context = json::array();
  if (!n.generator_url.empty()) context.push_back(Mrkdwn(SlackLink(n.generator_url, "sre-agent")));
  if (auto runbook = Annotation(n, "runbook_url"); !runbook.empty()) {
    context.push_back(Mrkdwn(SlackLink(TruncateRunes(runbook, 500), "runbook")));
  }
  if (!context.empty()) blocks.push_back({{"type", "context"}, {"elements", context}});

  json message = {{"text", text},
                  {"attachments", json::array({{{"color", n.firing ? "#d62d20" : "#2eb67d"},
                                                {"fallback", text},
                                                {"blocks", blocks}}})}};
  if (!channel.empty()) message["channel"] = channel;
  return Dump(message);
}

// PagerDuty Events API v2, POST /v2/enqueue ("Send an Alert Event"): routing_key, event_action
// (trigger, acknowledge, resolve), dedup_key (at most 255 characters), client, client_url, links,
// and for a trigger payload.{summary (at most 1024), source, severity, timestamp, component,
// group, class, custom_details}. A resolve needs only routing_key, dedup_key, event_action.
std::string PagerDutyBody(const Notification& n, std::string_view routing_key, double now_unix,
                          std::string_view agent_host) {
  json event = {{"routing_key", routing_key},
                {"event_action", n.firing ? "trigger" : "resolve"},
                {"dedup_key", FingerprintHex(n.labels)}};
  if (!n.firing) return Dump(event);

  const std::string alertname(n.Label("alertname")), summary = Annotation(n, "summary");
  std::string title = alertname + (summary.empty() ? "" : ": " + summary);
  if (auto where = Where(n.labels, ", "); !where.empty()) title += " (" + where + ")";
  // Source: where the problem is. A rule's own `instance`, then the probed `target` unless it
  // is this host, then the `node` external label, then the agent's host name.
  std::string source(n.Label("instance"));
  if (source.empty() && !n.Label("target").empty() && !IsLocalTarget(n.Label("target"))) {
    source = n.Label("target");
  }
  for (std::string_view fallback :
       {n.Label("node"), agent_host, UrlHost(n.generator_url), n.Label("target")}) {
    if (source.empty()) source = fallback;
  }
  if (source.empty()) source = "sre-agent";
  json payload = {
      {"summary", TruncateRunes(title, 1024)},
      {"source", source},
      {"severity", PagerDutySeverity(n.Label("severity"))},
      {"timestamp", Rfc3339Millis(n.starts_at_unix > 0 ? n.starts_at_unix : now_unix)},
      {"class", alertname},
      {"custom_details",
       {{"labels", LabelObject(n.labels)},
        {"annotations", StringObject(n.annotations)},
        {"value", FormatGoFloat(n.value)},  // a string: NaN and Inf are not JSON numbers
        {"firing_since", Rfc3339Millis(n.starts_at_unix)}}}};
  if (auto check = n.Label("check"); !check.empty()) payload["component"] = check;
  if (auto cluster = n.Label("cluster"); !cluster.empty()) payload["group"] = cluster;
  event["payload"] = std::move(payload);
  event["client"] = "sre-agent";
  json links = json::array();
  if (!n.generator_url.empty()) {
    event["client_url"] = n.generator_url;
    links.push_back({{"href", n.generator_url}, {"text", "sre-agent"}});
  }
  if (auto runbook = Annotation(n, "runbook_url"); !runbook.empty()) {
    links.push_back({{"href", runbook}, {"text", "runbook"}});
  }
  if (!links.empty()) event["links"] = std::move(links);
  return Dump(event);
}

}  // namespace sre::alerting
