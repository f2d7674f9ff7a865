#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/exporter_factory.h"
#include "agent/core/metric_set.h"
#include "agent/net/dns_resolver.h"
#include "agent/net/tcp_dialer.h"
#include "exporters/common/probe_counters.h"
#include "exporters/tcp/tcp_config.h"

namespace sre::exporters::tcp {

/// Checks one TCP endpoint: resolves its host, then connects to every address of the preferred
/// family at once (optionally TLS and query steps), and reports blackbox_exporter's `probe_*`
/// series per address plus SLO counters and a connect-time histogram.
///
/// `peer_compatible` (for /probe): connects to the first address only and reports exactly what
/// blackbox_exporter 0.23's tcp prober does, without labels: probe_dns_lookup_time_seconds,
/// probe_duration_seconds, probe_failed_due_to_regex, probe_ip_addr_hash, probe_ip_protocol,
/// probe_success, and after a verified TLS handshake probe_ssl_earliest_cert_expiry and
/// probe_tls_version_info. Loop-thread only.
class TcpExporter final : public Exporter {
 public:
  TcpExporter(const TcpConfig& config, net::EventLoop& loop, net::DnsResolver& resolver,
              std::shared_ptr<net::TlsClientContext> tls, bool peer_compatible = false);
  ~TcpExporter() override;

  // Exporter
  void Collect(TimePoint deadline, Done done) override;
  void Cancel() override;

 private:
  struct Attempt;  // one address in the running collection

  void OnResolved(net::Resolution resolution);
  void OnDialed(size_t index, net::DialResult result);
  void Finish();
  void FinishPeerCompatible();

  const TcpConfig config_;
  net::EventLoop& loop_;
  net::DnsResolver& resolver_;
  std::shared_ptr<net::TlsClientContext> tls_;
  const bool peer_compatible_;
  std::string host_;
  std::optional<net::IpAddress> literal_;  // the target's host when it is an IP address
  uint16_t port_ = 0;
  std::vector<net::QueryStep> steps_;
  Labels base_labels_;

  // The running collection.
  Done done_;
  TimePoint deadline_;
  TimePoint started_;
  net::DnsResolver::RequestId dns_request_ = 0;
  net::Resolution resolution_;
  std::vector<Attempt> attempts_;
  size_t pending_ = 0;

  ProbeCounters counters_;
};

/// The `tcp` exporter type; serves /probe modules with `prober: tcp` (target key `target`).
std::unique_ptr<ExporterFactory> MakeTcpFactory();

}  // namespace sre::exporters::tcp
