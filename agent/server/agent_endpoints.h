#pragma once

#include <functional>
#include <map>
#include <string>

#include "agent/base/clock.h"
#include "agent/runtime/agent.h"
#include "agent/server/http_server.h"
#include "agent/server/probe_endpoint.h"

namespace sre::server {

struct EndpointOptions {
  std::string telemetry_path = "/metrics";
  bool enable_openmetrics = false;
  std::string version;
  std::string revision;
  ProbeEndpointOptions probe{};
  /// What POST /-/reload does; unset: `agent.Reload()`. Called on a server thread.
  std::function<Status()> reload{};
};

/// Routes for HttpServer::Start: synchronous and asynchronous handlers by path.
struct Routes {
  std::map<std::string, HttpHandler> sync;
  std::map<std::string, AsyncHttpHandler> async;
};

/// The agent's routes: the telemetry path, `/`, `/-/healthy`, `/-/ready`, `/-/reload` (POST), and
/// the asynchronous `/probe` (ProbeHandler). The synchronous handlers read published snapshots
/// only, so their latency never depends on a target; only /-/reload waits, for the config file to
/// be read and applied. /probe waits for its target without holding a server thread. `agent` and
/// `clock` must outlive the server.
Routes AgentRoutes(Agent& agent, const Clock& clock, EndpointOptions options);

/// The content type /metrics answers with for `accept`, and which format that is.
ExpositionFormat NegotiateFormat(const std::string* accept, bool enable_openmetrics);

}  // namespace sre::server
