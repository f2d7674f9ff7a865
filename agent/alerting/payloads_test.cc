#include "agent/alerting/payloads.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "agent/alerting/receiver_response.h"

namespace sre::alerting {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr double kStart = 1796565785.123;  // 2026-12-06T14:03:05.123Z
constexpr double kNow = kStart + 600;

Notification Firing() {
  Notification n;
  n.labels = {{"alertname", "SiteDown"},
              {"check", "web"},
              {"severity", "critical"},
              {"target", "https://shop.example.com"}};
  n.annotations = {{"summary", "shop is down"}, {"runbook_url", "https://wiki/site-down"}};
  n.value = 0;
  n.starts_at_unix = kStart;
  n.generator_url = "http://node1:9100/";
  return n;
}

Notification Resolved() {
  Notification n = Firing();
  n.firing = false;
  n.resolved_at_unix = kStart + 725;
  return n;
}

std::set<std::string> Keys(const json& object) {
  std::set<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.insert(key);
  return keys;
}

void ExpectStringMap(const json& object) {
  ASSERT_TRUE(object.is_object()) << object;
  for (const auto& [key, value] : object.items()) EXPECT_TRUE(value.is_string()) << key;
}

TEST(PayloadsTest, Rfc3339WithMillisecondsRoundedInUtc) {
  EXPECT_EQ(Rfc3339Millis(kStart), "2026-12-06T14:03:05.123Z");
  EXPECT_EQ(Rfc3339Millis(1796565785.1236), "2026-12-06T14:03:05.124Z");
  EXPECT_EQ(Rfc3339Millis(1796565785.1234), "2026-12-06T14:03:05.123Z");
  EXPECT_EQ(Rfc3339Millis(1796565839.9996), "2026-12-06T14:04:00.000Z");  // carries
  EXPECT_EQ(Rfc3339Millis(951868799.9999), "2000-03-01T00:00:00.000Z");   // across a leap day
  EXPECT_EQ(Rfc3339Millis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(Rfc3339Millis(-5), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(Rfc3339Millis(std::nan("")), "1970-01-01T00:00:00.000Z");
}

TEST(PayloadsTest, AlertmanagerPostableAlerts) {
  Notification early = Resolved();
  early.resolved_at_unix = kStart - 5;  // a clock step must not make Alertmanager refuse all
  const json body =
      json::parse(AlertmanagerBody({Firing(), Resolved(), early}, kNow, seconds(240)));
  ASSERT_TRUE(body.is_array());
  ASSERT_EQ(body.size(), 3u);
  for (const json& alert : body) {
    EXPECT_EQ(Keys(alert), (std::set<std::string>{"labels", "annotations", "startsAt", "endsAt",
                                                  "generatorURL"}));
    ExpectStringMap(alert["labels"]);
    ExpectStringMap(alert["annotations"]);
    EXPECT_EQ(alert["startsAt"], "2026-12-06T14:03:05.123Z");
    EXPECT_EQ(alert["generatorURL"], "http://node1:9100/");
  }
  EXPECT_EQ(body[0]["labels"]["alertname"], "SiteDown");
  EXPECT_EQ(body[0]["annotations"]["summary"], "shop is down");
  EXPECT_EQ(body[0]["endsAt"], "2026-12-06T14:17:05.123Z");  // now + lease
  EXPECT_EQ(body[1]["endsAt"], "2026-12-06T14:15:10.123Z");  // resolved_at
  EXPECT_EQ(body[2]["endsAt"], body[2]["startsAt"]);
  EXPECT_EQ(AlertmanagerBody({}, kNow, seconds(240)), "[]");
}

TEST(PayloadsTest, WebhookHasAlertmanagersShape) {
  Notification other = Firing();
  other.labels = {{"alertname", "SiteDown"}, {"check", "api"}, {"severity", "critical"}};
  other.annotations = {{"summary", "api is down"}};
  const json body = json::parse(WebhookBody({Firing(), Resolved(), other}, "hook", "http://n1/"));
  EXPECT_EQ(Keys(body), (std::set<std::string>{"version", "groupKey", "truncatedAlerts", "status",
                                               "receiver", "groupLabels", "commonLabels",
                                               "commonAnnotations", "externalURL", "alerts"}));
  EXPECT_EQ(body["version"], "4");
  EXPECT_EQ(body["groupKey"], "{}:{alertname=\"SiteDown\"}");
  EXPECT_TRUE(body["truncatedAlerts"].is_number_integer());
  EXPECT_EQ(body["truncatedAlerts"], 0);
  EXPECT_EQ(body["status"], "firing");
  EXPECT_EQ(body["receiver"], "hook");
  EXPECT_EQ(body["externalURL"], "http://n1/");
  EXPECT_EQ(body["groupLabels"], json({{"alertname", "SiteDown"}}));
  EXPECT_EQ(body["commonLabels"], json({{"alertname", "SiteDown"}, {"severity", "critical"}}));
  EXPECT_EQ(body["commonAnnotations"], json::object());
  ASSERT_EQ(body["alerts"].size(), 3u);
  for (const json& alert : body["alerts"]) {
    EXPECT_EQ(Keys(alert), (std::set<std::string>{"status", "labels", "annotations", "startsAt",
                                                  "endsAt", "generatorURL", "fingerprint"}));
    ExpectStringMap(alert["labels"]);
    ExpectStringMap(alert["annotations"]);
    EXPECT_EQ(alert["startsAt"], "2026-12-06T14:03:05.123Z");
  }
  EXPECT_EQ(body["alerts"][0]["status"], "firing");
  EXPECT_EQ(body["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(body["alerts"][0]["fingerprint"], FingerprintHex(Firing().labels));
  EXPECT_EQ(body["alerts"][1]["status"], "resolved");
  EXPECT_EQ(body["alerts"][1]["endsAt"], "2026-12-06T14:15:10.123Z");

  other.labels = {{"alertname", "Other\"Name"}};
  const json mixed = json::parse(WebhookBody({Resolved(), other}, "hook", ""));
  EXPECT_EQ(mixed["groupLabels"], json::object());
  EXPECT_EQ(mixed["groupKey"], "{}:{}");
  const json one = json::parse(WebhookBody({Resolved()}, "hook", ""));
  EXPECT_EQ(one["status"], "resolved");
  EXPECT_EQ(one["commonAnnotations"], json(Resolved().annotations));
  EXPECT_EQ(json::parse(WebhookBody({other}, "h", ""))["groupKey"],
            "{}:{alertname=\"Other\\\"Name\"}");
}

TEST(PayloadsTest, SlackSaysWhatWhereSinceAndValue) {
  const json body = json::parse(SlackBody(Firing(), "#ops"));
  EXPECT_EQ(body["channel"], "#ops");
  ASSERT_TRUE(body["text"].is_string());
  EXPECT_EQ(body["text"],
            ":red_circle: FIRING: SiteDown (critical) - shop is down "
            "[check=web target=https://shop.example.com]");
  const json& attachment = body["attachments"][0];
  EXPECT_EQ(attachment["color"], "#d62d20");
  EXPECT_EQ(attachment["fallback"], body["text"]);
  const json& blocks = attachment["blocks"];
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[0]["type"], "section");
  EXPECT_EQ(blocks[0]["text"]["type"], "mrkdwn");
  EXPECT_EQ(blocks[0]["text"]["text"], "*shop is down*");
  const json& fields = blocks[1]["fields"];
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_EQ(fields[0]["text"], "*Where*\n`check=web` `target=https://shop.example.com`");
  EXPECT_EQ(fields[1]["text"], "*Firing since*\n2026-12-06 14:03:05 UTC");
  EXPECT_EQ(fields[2]["text"], "*Value*\n0");
  EXPECT_EQ(blocks[2]["type"], "context");
  EXPECT_EQ(blocks[2]["elements"][0]["text"], "<http://node1:9100/|sre-agent>");
  EXPECT_EQ(blocks[2]["elements"][1]["text"], "<https://wiki/site-down|runbook>");

  const json resolved = json::parse(SlackBody(Resolved(), ""));
  EXPECT_FALSE(resolved.contains("channel"));
  EXPECT_EQ(resolved["attachments"][0]["color"], "#2eb67d");
  EXPECT_EQ(resolved["text"].get<std::string>().rfind(":white_check_mark: RESOLVED: SiteDown", 0),
            0u);
  EXPECT_EQ(resolved["attachments"][0]["blocks"][1]["fields"][2]["text"],
            "*Resolved*\n2026-12-06 14:15:10 UTC, after 12m 5s");
}

TEST(PayloadsTest, SlackEscapesControlCharacters) {
  Notification n = Firing();
  n.labels = {{"alertname", "A&B"}, {"target", "<x>`y`"}};
  n.annotations = {{"summary", "p99 > 2s & <b>rising</b>"}};
  n.generator_url = "http://h/?a=1&b=2|x";
  const std::string raw = SlackBody(n, "");
  const json body = json::parse(raw);
  EXPECT_EQ(body["text"],
            ":red_circle: FIRING: A&amp;B - p99 &gt; 2s &amp; &lt;b&gt;rising&lt;/b&gt; "
            "[target=&lt;x&gt;`y`]");
  const json& blocks = body["attachments"][0]["blocks"];
  EXPECT_EQ(blocks[1]["fields"][0]["text"], "*Where*\n`target=&lt;x&gt;'y'`");
  EXPECT_EQ(blocks[2]["elements"][0]["text"], "<http://h/?a=1&amp;b=2%7Cx|sre-agent>");
  EXPECT_EQ(raw.find("<b>"), std::string::npos);
  n.annotations = {{"summary", std::string(5000, '&')}, {"description", "bad \xff utf-8"}};
  const json big = json::parse(SlackBody(n, ""));  // invalid UTF-8 is replaced, not thrown
  EXPECT_LE(big["attachments"][0]["blocks"][0]["text"]["text"].get<std::string>().size(), 3000u);
}

TEST(PayloadsTest, PagerDutyTriggerAndResolveShareTheDedupKey) {
  const std::string key(32, 'k');
  const json trigger = json::parse(PagerDutyBody(Firing(), key, kNow, "node1"));
  const json resolve = json::parse(PagerDutyBody(Resolved(), key, kNow, "node1"));
  EXPECT_EQ(trigger["routing_key"], key);
  EXPECT_EQ(trigger["event_action"], "trigger");
  EXPECT_EQ(trigger["dedup_key"], FingerprintHex(Firing().labels));
  EXPECT_EQ(resolve["dedup_key"], trigger["dedup_key"]);
  EXPECT_EQ(Keys(resolve), (std::set<std::string>{"routing_key", "event_action", "dedup_key"}));
  EXPECT_EQ(resolve["event_action"], "resolve");
  EXPECT_EQ(trigger["client"], "sre-agent");
  EXPECT_EQ(trigger["client_url"], "http://node1:9100/");
  EXPECT_EQ(trigger["links"][1], json({{"href", "https://wiki/site-down"}, {"text", "runbook"}}));
  const json& payload = trigger["payload"];
  EXPECT_EQ(payload["summary"],
            "SiteDown: shop is down (check=web, target=https://shop.example.com)");
  EXPECT_EQ(payload["source"], "https://shop.example.com");
  EXPECT_EQ(payload["severity"], "critical");
  EXPECT_EQ(payload["timestamp"], "2026-12-06T14:03:05.123Z");
  EXPECT_EQ(payload["component"], "web");
  EXPECT_EQ(payload["class"], "SiteDown");
  EXPECT_FALSE(payload.contains("group"));
  EXPECT_EQ(payload["custom_details"]["labels"]["target"], "https://shop.example.com");
  EXPECT_EQ(payload["custom_details"]["annotations"]["summary"], "shop is down");
  EXPECT_EQ(payload["custom_details"]["value"], "0");
}

TEST(PayloadsTest, PagerDutySummaryIsCutAt1024Characters) {
  Notification n = Firing();
  n.labels = {{"alertname", "X"}};
  n.annotations = {{"summary", std::string(3000, 'a') + "é"}};
  std::string summary = json::parse(PagerDutyBody(n, "k", kNow))["payload"]["summary"];
  EXPECT_EQ(summary, "X: " + std::string(1020, 'a') + "…");
  n.annotations = {{"summary", "é€😀"}};  // counted in characters, not bytes
  for (int i = 0; i < 9; ++i) n.annotations["summary"] += n.annotations["summary"];
  summary = json::parse(PagerDutyBody(n, "k", kNow))["payload"]["summary"];
  EXPECT_EQ(summary.substr(summary.size() - 3), "…");
  EXPECT_LE(summary.size(), 1024u * 4);
  EXPECT_EQ(summary.substr(0, 5), "X: é");
}

TEST(PayloadsTest, PagerDutySeverityAndSourceChoices) {
  auto payload = [](Labels labels, std::string_view host = "agent-host") {
    Notification n = Firing();
    n.labels = std::move(labels);
    return json::parse(PagerDutyBody(n, "k", kNow, host))["payload"];
  };
  const std::pair<const char*, const char*> severities[] = {
      {"critical", "critical"}, {"P1", "critical"},     {"page", "critical"}, {"error", "error"},
      {"major", "error"},       {"Warning", "warning"}, {"warn", "warning"},  {"info", "info"},
      {"low", "info"},          {"bogus", "error"},     {"", "error"}};
  for (const auto& [label, severity] : severities) {
    EXPECT_EQ(payload({{"alertname", "A"}, {"severity", label}})["severity"], severity) << label;
  }
  EXPECT_EQ(payload({{"alertname", "A"}, {"instance", "i:1"}, {"node", "n"}})["source"], "i:1");
  EXPECT_EQ(payload({{"alertname", "A"}, {"node", "n"}, {"target", "127.0.0.1:9000"}})["source"],
            "n");
  EXPECT_EQ(payload({{"alertname", "A"}, {"target", "unix:/run/php.sock"}})["source"],
            "agent-host");
  EXPECT_EQ(payload({{"alertname", "A"}}, "")["source"], "node1");  // the generator URL's host
  const json grouped = payload({{"alertname", "A"}, {"cluster", "eu1"}});
  EXPECT_EQ(grouped["group"], "eu1");
  EXPECT_FALSE(grouped.contains("component"));
}

Verdict Classify(ReceiverKind kind, long status, std::string_view retry_after = "",
                 std::string_view body = "", std::string_view secret = "") {
  return ClassifyResponse(kind, status, retry_after, body, kNow, secret);
}

TEST(ClassifyResponseTest, StatusTable) {
  const std::string pd_invalid =
      R"js({"status":"invalid event","message":"Event object is invalid",)js"
      R"js("errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]})js";
  const struct {
    ReceiverKind kind;
    long status;
    std::string body;
    Outcome outcome;
    std::string message;
  } cases[] = {
      {ReceiverKind::kSlack, 200, "ok", Outcome::kDelivered, "Slack answered HTTP 200: ok"},
      {ReceiverKind::kPagerDuty, 202,
       R"({"status":"success","message":"Event processed","dedup_key":"abc"})", Outcome::kDelivered,
       "PagerDuty answered HTTP 202: Event processed"},
      {ReceiverKind::kAlertmanager, 200, "", Outcome::kDelivered, "Alertmanager answered HTTP 200"},
      {ReceiverKind::kSlack, 400, "invalid_payload", Outcome::kRejected,
       "Slack answered HTTP 400: invalid_payload"},
      {ReceiverKind::kPagerDuty, 400, pd_invalid, Outcome::kRejected,
       "PagerDuty answered HTTP 400: Event object is invalid: Length of 'routing_key' is "
       "incorrect (should be 32 characters)"},
      {ReceiverKind::kAlertmanager, 400, "\"start time must be before end time\"\n",
       Outcome::kRejected, "Alertmanager answered HTTP 400: start time must be before end time"},
      {ReceiverKind::kSlack, 404, "no_service", Outcome::kRejected,
       "Slack answered HTTP 404: no_service"},
      {ReceiverKind::kWebhook, 413, "<html><title>413 Too Large</title></html>", Outcome::kRejected,
       "webhook answered HTTP 413: 413 Too Large"},
      {ReceiverKind::kWebhook, 408, "", Outcome::kRetry, "webhook answered HTTP 408"},
      {ReceiverKind::kSlack, 429, "", Outcome::kRetry, "Slack answered HTTP 429"},
      {ReceiverKind::kAlertmanager, 500, "boom\n\tagain", Outcome::kRetry,
       "Alertmanager answered HTTP 500: boom again"},
      {ReceiverKind::kPagerDuty, 503, "", Outcome::kRetry, "PagerDuty answered HTTP 503"},
      {ReceiverKind::kWebhook, 0, "", Outcome::kRetry, "webhook gave no HTTP answer"},
  };
  for (const auto& c : cases) {
    const Verdict verdict = Classify(c.kind, c.status, "", c.body);
    EXPECT_EQ(verdict.outcome, c.outcome) << c.status << " " << c.body;
    EXPECT_EQ(verdict.message, c.message);
    EXPECT_EQ(verdict.retry_after, Duration(0));
  }
}

TEST(ClassifyResponseTest, RetryAfterSecondsOrHttpDateCapped) {
  auto after = [](std::string_view header, long status = 429) {
    return Classify(ReceiverKind::kSlack, status, header).retry_after;
  };
  EXPECT_EQ(after("30"), seconds(30));
  EXPECT_EQ(Classify(ReceiverKind::kSlack, 429, " 30 ").message,
            "Slack answered HTTP 429 (Retry-After 30s)");
  EXPECT_EQ(after("3600", 503), std::chrono::minutes(10));
  EXPECT_EQ(after("99999999999999999999"), std::chrono::minutes(10));
  // kNow is Sun, 06 Dec 2026 14:13:05.123 GMT.
  EXPECT_EQ(after("Sun, 06 Dec 2026 14:15:05 GMT"), std::chrono::milliseconds(119877));
  EXPECT_EQ(after("Sunday, 06-Dec-26 14:15:05 GMT"), std::chrono::milliseconds(119877));
  EXPECT_EQ(after("Sun Dec  6 14:15:05 2026", 500), std::chrono::milliseconds(119877));
  EXPECT_EQ(after("Sun, 06 Dec 2026 23:59:59 GMT"), std::chrono::minutes(10));
  EXPECT_EQ(after("Sun, 06 Dec 2026 14:00:00 GMT"), Duration(0));   // past: backoff
  EXPECT_EQ(after("Sunday, 06-Dec-94 14:15:05 GMT"), Duration(0));  // 1994, not 2094
  for (std::string_view bad : {"", "-5", "1.5", "soon", "Sun, 32 Dec 2026 14:15:05 GMT",
                               "Sun, 06 Dec 2026 14:15 GMT", "0"}) {
    EXPECT_EQ(after(bad), Duration(0)) << bad;
  }
  EXPECT_EQ(Classify(ReceiverKind::kSlack, 400, "30").retry_after, Duration(0));
}

TEST(ClassifyResponseTest, MessageIsShortAndNeverHoldsTheSecret) {
  const std::string url = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX";
  Verdict verdict = Classify(ReceiverKind::kSlack, 404, "", "no_service for " + url, url);
  EXPECT_EQ(verdict.message, "Slack answered HTTP 404: no_service for <redacted>");
  verdict = Classify(ReceiverKind::kSlack, 403, "", "invalid_token XXXXXXXXXXXXXXXXXXXXXXXX", url);
  EXPECT_EQ(verdict.message, "Slack answered HTTP 403: invalid_token <redacted>");
  const std::string key = "R0123456789abcdef0123456789ABCDE";
  verdict = Classify(ReceiverKind::kPagerDuty, 400, "",
                     R"({"message":"Event object is invalid","errors":["bad key )" + key + "\"]}");
  EXPECT_EQ(verdict.message.find(key), std::string::npos) << verdict.message;
  EXPECT_NE(verdict.message.find("bad key <redacted>"), std::string::npos);
  verdict = Classify(ReceiverKind::kWebhook, 500, "", std::string(5000, 'x') + "é");
  EXPECT_LE(verdict.message.size(), 240u);
  EXPECT_EQ(verdict.message.substr(verdict.message.size() - 3), "…");
  // Plain words and snake_case codes stay readable.
  verdict = Classify(ReceiverKind::kSlack, 400, "", "missing_text_or_fallback_or_attachments");
  EXPECT_EQ(verdict.message, "Slack answered HTTP 400: missing_text_or_fallback_or_attachments");
}

}  // namespace
}  // namespace sre::alerting
