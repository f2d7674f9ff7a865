#pragma once

#include <string>

#include "agent/base/clock.h"
#include "agent/base/status.h"
#include "agent/runtime/agent.h"
#include "agent/server/http_server.h"

namespace sre::server {

struct ProbeEndpointOptions {
  /// Taken off the scrape timeout Prometheus announces, as blackbox_exporter's --timeout-offset.
  double timeout_offset_seconds = 0.5;
  /// The most a probe may take, whatever the header or module says.
  double max_timeout_seconds = 3600;
};

/// The deadline of one probe in seconds, as blackbox_exporter 0.23 computes it (getTimeout): the
/// `X-Prometheus-Scrape-Timeout-Seconds` header (120 when absent or 0) minus `offset_seconds`;
/// the module's timeout instead when it is set and shorter, or when the header minus the offset
/// is negative (then possibly 0: the probe is due at once). An error when the header is not a
/// finite number.
Result<double> ProbeTimeoutSeconds(const std::string* scrape_timeout_header,
                                   Duration module_timeout, double offset_seconds);

/// `/probe?module=&target=[&debug=true]`, answering as blackbox_exporter does: module defaults to
/// http_2xx; an unknown module or a missing target is 400; a target outside `probe.allow` is 403;
/// a target the module's exporter rejects is 400 with its message; otherwise the probe runs on the
/// agent's loop (Agent::Probe) while the connection waits suspended, and the answer is 200 with the
/// families in the text format 0.0.4 (probe_success and probe_duration_seconds always among
/// them). `debug=true` answers with the result in words, the metrics and the module instead.
/// Reads `agent.probe_config()` per request, so a reload applies to the next request. `agent` and
/// `clock` must outlive the server.
AsyncHttpHandler ProbeHandler(Agent& agent, const Clock& clock, ProbeEndpointOptions options = {});

}  // namespace sre::server
