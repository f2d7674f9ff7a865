#include "agent/main/alert_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "agent/alerting/delivery.h"
#include "agent/config/duration.h"
#include "agent/main/flags.h"
#include "agent/main/probe_command.h"
#include "agent/main/probe_output.h"
#include "agent/net/event_loop.h"
#include "agent/runtime/agent_config.h"

namespace sre::cli {
namespace {

const std::vector<FlagSpec>& AlertFlags() {
  static const std::vector<FlagSpec> flags = {
      {"config", "FILE", "the agent's configuration file", "/etc/sre-agent/sre-agent.yaml"},
      {"timeout", "DURATION", "give up on each request after this long", "5s"},
      {"output", "FORMAT", "text, json, prom (Prometheus text) or nagios", "text"},
      {"help", "", "show this help"},
  };
  return flags;
}

std::string Host() {
  char name[256] = {};
  return gethostname(name, sizeof(name) - 1) == 0 ? name : "this node";
}

// The test alert: its own name, so that no route or inhibition meant for real alerts is
// confused by it, with the config's external labels as a real one would have.
alerting::Notification TestAlert(const alerting::AlertingConfig& config,
                                 const std::string& receiver, double now_unix) {
  alerting::Notification n;
  n.labels = {{"alertname", "SreProbeTest"}, {"receiver", receiver}, {"severity", "info"}};
  for (const auto& [name, value] : config.external_labels) {
    if (name != "alertname" && name != "receiver" && name != "severity") {
      n.labels.push_back({name, value});
    }
  }
  std::sort(n.labels.begin(), n.labels.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  n.annotations = {{"summary", fmt::format("Test alert from sre-probe on {}", Host())},
                   {"description", "Sent by `sre-probe alert test " + receiver +
                                       "`: the receiver works. It resolves at once."}};
  n.starts_at_unix = now_unix;
  n.generator_url = config.external_url;
  return n;
}

// One delivery attempt, run on a loop of its own until it answers.
alerting::Verdict Send(const alerting::ReceiverConfig& receiver,
                       const alerting::Notification& notification,
                       const std::string& external_url) {
  SystemClock clock;
  net::EventLoop loop(clock);
  auto curl = net::CurlMulti::Create(loop);
  if (!curl.ok()) {
    return {alerting::Outcome::kRetry, {}, curl.status().message(), Reason::kConnectionFailed};
  }
  // A lease of five minutes: should the resolve not arrive, Alertmanager ends it by itself.
  alerting::DeliveryAttempt attempt(**curl, receiver, {notification}, clock.WallSeconds(),
                                    std::chrono::minutes(5), external_url);
  std::optional<alerting::Verdict> verdict;
  attempt.Start([&](alerting::Verdict v) { verdict = std::move(v); });
  while (!verdict) loop.RunOnce(std::chrono::milliseconds(100));  // curl enforces the timeout
  return std::move(*verdict);
}

}  // namespace

CommandDoc AlertCommandDoc() {
  return {"alert test", "RECEIVER",
          "send a test alert, then its resolution, through a receiver of the agent's config",
          AlertFlags()};
}

int RunAlertCommand(const ExporterRegistry& registry, const std::vector<std::string>& args) {
  const std::string usage = CommandUsage(AlertCommandDoc());
  auto flags = ParseFlags(AlertFlags(), args);
  if (!flags.ok()) return UsageError(flags.status().message() + "; see sre-probe alert --help");
  if (flags->Get("help") == "true") {
    std::fputs(usage.c_str(), stdout);
    return 0;
  }
  if (flags->positional.size() != 2 || flags->positional[0] != "test") {
    return UsageError("expected `alert test RECEIVER`; see sre-probe alert --help");
  }
  const std::string name = flags->positional[1];
  auto format = ParseOutputFormat(flags->Get("output", "text"));
  if (!format.ok()) return UsageError(format.status().message());
  auto timeout = config::ParseDuration(flags->Get("timeout", "5s"));
  if (!timeout.ok()) return UsageError("--timeout: " + timeout.status().message());

  auto config = LoadAgentConfig(flags->Get("config", "/etc/sre-agent/sre-agent.yaml"), registry);
  if (!config.ok()) return UsageError(config.status().message());
  const alerting::AlertingConfig& alerting = *config->alerting;
  const alerting::ReceiverConfig* found = alerting.FindReceiver(name);
  if (found == nullptr) {
    std::string names;
    for (const auto& r : alerting.receivers) names += (names.empty() ? "" : ", ") + r.name;
    return UsageError(fmt::format("no receiver named \"{}\" in {}; it has: {}", name, config->file,
                                  names.empty() ? "none" : names));
  }
  alerting::ReceiverConfig receiver = *found;
  receiver.timeout = *timeout;

  SystemClock clock;
  const TimePoint start = clock.Now();
  alerting::Notification notification = TestAlert(alerting, name, clock.WallSeconds());
  alerting::Verdict verdict = Send(receiver, notification, alerting.external_url);
  std::string said = "firing: " + verdict.message;
  if (verdict.outcome == alerting::Outcome::kDelivered) {
    notification.firing = false;
    notification.resolved_at_unix = clock.WallSeconds();
    verdict = Send(receiver, notification, alerting.external_url);
    said += "; resolved: " + verdict.message;
  }
  ProbeReport report{"alert", name, receiver.type, {}, clock.Now() - start};
  report.result.success = verdict.outcome == alerting::Outcome::kDelivered;
  report.result.reason = report.result.success ? Reason::kNone : verdict.reason;
  report.result.message = said;
  const ExitCode code = Evaluate(report, {});
  std::fputs(Render({"alert test", {std::move(report)}, {code}}, *format, UseColor()).c_str(),
             stdout);
  return static_cast<int>(code);
}

}  // namespace sre::cli
