#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/exporter_factory.h"
#include "agent/core/metric_set.h"
#include "agent/net/dns_resolver.h"
#include "exporters/common/probe_counters.h"
#include "exporters/http_probe/http_config.h"
#include "exporters/http_probe/http_request.h"
#include "exporters/http_probe/sla_tracker.h"

namespace sre::exporters::http_probe {

/// One scheduled HTTP(S) probe: resolves the URL's host, requests the URL from every address of
/// the preferred family at once (or the first only), and reports blackbox_exporter's http
/// `probe_*` series per address, plus SLO counters, a request-duration histogram and the probe's
/// SLA windows. With `ExporterEnv::peer_compatible` it answers as blackbox_exporter's /probe
/// would. Loop-thread only.
class HttpProbeExporter final : public Exporter {
 public:
  HttpProbeExporter(const HttpProbeConfig& config, ExporterEnv& env, net::DnsResolver& resolver);
  ~HttpProbeExporter() override;

  // Exporter
  void Collect(TimePoint deadline, Done done) override;
  void Cancel() override;

 private:
  struct Attempt;  // one address in the running collection

  void OnResolved(net::Resolution resolution);
  void OnOutcome(size_t index, HttpOutcome outcome);
  void Finish();
  void AddAttemptSeries(MetricSet& set, const Attempt& attempt) const;
  void AddSlaSeries(MetricSet& set) const;

  const HttpProbeConfig config_;
  const ExporterEnv env_;  // a copy: references to what outlives every exporter
  net::DnsResolver& resolver_;
  const std::shared_ptr<const RequestPlan> plan_;
  std::optional<net::IpAddress> literal_;  // the URL's host when it is an IP address
  Labels base_labels_;

  // The running collection.
  Done done_;
  TimePoint deadline_;
  TimePoint started_;
  double started_unix_ = 0;
  net::DnsResolver::RequestId dns_request_ = 0;
  net::Resolution resolution_;
  std::vector<Attempt> attempts_;
  size_t pending_ = 0;

  // Kept across runs: a request (with its curl handle) per address of the last run, counters
  // and SLA windows.
  std::map<std::string, std::unique_ptr<HttpRequest>> requests_;
  ProbeCounters counters_;
  SlaTracker sla_;
};

/// The `http_probe` exporter type.
std::unique_ptr<ExporterFactory> MakeHttpProbeFactory();

}  // namespace sre::exporters::http_probe
