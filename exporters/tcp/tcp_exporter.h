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
#include "exporters/tcp/tcp_config.h"

namespace sre::exporters::tcp {

/// Checks one TCP endpoint: resolves its host, then connects to every address of the preferred
/// family at once (optionally TLS and query steps), and reports blackbox_exporter's `probe_*`
/// series per address plus SLO counters and a connect-time histogram. Loop-thread only.
class TcpExporter final : public Exporter {
 public:
  TcpExporter(const TcpConfig& config, net::EventLoop& loop, net::DnsResolver& resolver,
              std::shared_ptr<net::TlsClientContext> tls);
  ~TcpExporter() override;

  // Exporter
  void Collect(TimePoint deadline, Done done) override;
  void Cancel() override;

 private:
  struct AddressState;  // counters kept across runs, per address
  struct Attempt;       // one address in the running collection

  void OnResolved(net::Resolution resolution);
  void OnDialed(size_t index, net::DialResult result);
  void Finish();
  AddressState& StateFor(const std::string& address);

  const TcpConfig config_;
  net::EventLoop& loop_;
  net::DnsResolver& resolver_;
  std::shared_ptr<net::TlsClientContext> tls_;
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

  uint64_t runs_ = 0;
  std::map<std::string, std::unique_ptr<AddressState>> addresses_;
};

/// The `tcp` exporter type.
std::unique_ptr<ExporterFactory> MakeTcpFactory();

}  // namespace sre::exporters::tcp
