#include "agent/server/agent_endpoints.h"

#include <fmt/format.h>

#include <algorithm>

#include "agent/server/landing_page.h"

namespace sre::server {
namespace {

constexpr char kText004[] = "text/plain; version=0.0.4; charset=utf-8";
constexpr char kOpenMetrics[] = "application/openmetrics-text; version=1.0.0; charset=utf-8";

HttpResponse MethodNotAllowed(const std::string& allow) {
  HttpResponse response = HttpResponse::Text(405, "method not allowed; use " + allow + "\n");
  response.headers.emplace_back("Allow", allow);
  return response;
}

bool IsRead(const HttpRequest& request) {
  return request.method == "GET" || request.method == "HEAD";
}

bool AcceptsGzip(const HttpRequest& request) {
  const std::string* encoding = request.Header("accept-encoding");
  return encoding != nullptr && encoding->find("gzip") != std::string::npos;
}

void AddAlerting(const alerting::AlertingView& view, LandingPage& page) {
  for (const alerting::AlertView& alert : view.alerts) {
    AlertRow row;
    row.state = alerting::AlertStateName(alert.state);
    for (const auto& label : alert.labels) {
      if (label.name == "alertname") {
        row.name = label.value;
        continue;
      }
      if (!row.labels.empty()) row.labels += ", ";
      row.labels += fmt::format("{}=\"{}\"", label.name, label.value);
    }
    if (auto it = alert.annotations.find("summary"); it != alert.annotations.end()) {
      row.summary = it->second;
    }
    row.value = alert.value;
    row.since_unix = alert.state == alerting::AlertState::kResolved ? alert.resolved_at_unix
                                                                    : alert.active_since_unix;
    page.alerts.push_back(std::move(row));
  }
  // What needs a look first: firing, then pending, then resolved.
  auto rank = [](const AlertRow& r) {
    return r.state == "firing" ? 0 : r.state == "pending" ? 1 : 2;
  };
  std::stable_sort(page.alerts.begin(), page.alerts.end(),
                   [&](const AlertRow& a, const AlertRow& b) { return rank(a) < rank(b); });
  for (const alerting::ReceiverView& receiver : view.receivers) {
    page.receivers.push_back({receiver.name, receiver.type, receiver.queued, receiver.last_error,
                              receiver.last_success_unix});
  }
}

LandingPage MakeLandingPage(const Agent& agent, const Clock& clock,
                            const EndpointOptions& options) {
  const AgentState state = agent.state();
  LandingPage page;
  page.version = options.version;
  page.revision = options.revision;
  page.start_time_unix = state.start_time_unix;
  page.now_unix = clock.WallSeconds();
  page.metrics_path = options.telemetry_path;
  page.ready = state.ready;
  page.config_file = state.config_file;
  page.last_reload_ok = state.last_reload_ok;
  page.last_reload_error = state.last_reload_error;
  for (const auto& snapshot : agent.store().All()) {
    const CheckStatus& s = snapshot->status;
    if (s.check.empty()) continue;  // the agent's own series
    page.checks.push_back({s.exporter, s.check, s.target, s.ran, s.success,
                           std::string(ReasonName(s.reason)), s.message, s.duration_seconds,
                           s.time_unix, s.incidents});
  }
  AddAlerting(*agent.alerting_view(), page);
  return page;
}

}  // namespace

ExpositionFormat NegotiateFormat(const std::string* accept, bool enable_openmetrics) {
  if (enable_openmetrics && accept != nullptr &&
      accept->find("application/openmetrics-text") != std::string::npos) {
    return ExpositionFormat::kOpenMetrics100;
  }
  return ExpositionFormat::kText004;
}

Routes AgentRoutes(Agent& agent, const Clock& clock, EndpointOptions options) {
  Routes all;
  std::map<std::string, HttpHandler>& routes = all.sync;
  routes[options.telemetry_path] = [&agent, options](const HttpRequest& request) {
    if (!IsRead(request)) return MethodNotAllowed("GET, HEAD");
    const ExpositionFormat format =
        NegotiateFormat(request.Header("accept"), options.enable_openmetrics);
    const bool gzip = AcceptsGzip(request);
    HttpResponse response;
    response.content_type = format == ExpositionFormat::kText004 ? kText004 : kOpenMetrics;
    response.headers.emplace_back("Vary", "Accept, Accept-Encoding");
    if (gzip) response.headers.emplace_back("Content-Encoding", "gzip");
    response.body =
        agent.store().Render(format, gzip ? ContentEncoding::kGzip : ContentEncoding::kIdentity);
    return response;
  };
  routes["/"] = [&agent, &clock, options](const HttpRequest& request) {
    if (!IsRead(request)) return MethodNotAllowed("GET, HEAD");
    return HttpResponse::Html(200, RenderLandingPage(MakeLandingPage(agent, clock, options)));
  };
  routes["/-/healthy"] = [](const HttpRequest& request) {
    if (!IsRead(request)) return MethodNotAllowed("GET, HEAD");
    return HttpResponse::Text(200, "sre-agent is healthy.\n");
  };
  routes["/-/ready"] = [&agent](const HttpRequest& request) {
    if (!IsRead(request)) return MethodNotAllowed("GET, HEAD");
    if (agent.ready()) return HttpResponse::Text(200, "sre-agent is ready.\n");
    return HttpResponse::Text(503,
                              "sre-agent is not ready: the first round of checks is running.\n");
  };
  routes["/-/reload"] = [&agent, reload = options.reload](const HttpRequest& request) {
    if (request.method != "POST") return MethodNotAllowed("POST");
    Status status = reload ? reload() : agent.Reload();
    if (status.ok()) return HttpResponse::Text(200, "configuration reloaded\n");
    return HttpResponse::Text(
        500, "configuration rejected, the previous one keeps running: " + status.message() + "\n");
  };
  all.async["/probe"] = ProbeHandler(agent, clock, options.probe);
  return all;
}

}  // namespace sre::server
