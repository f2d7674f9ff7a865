#include "exporters/tcp/tcp_exporter.h"

#include <fmt/format.h>

#include "agent/base/callback.h"
#include "agent/net/event_loop.h"
#include "exporters/common/blackbox_help.h"

namespace sre::exporters::tcp {
namespace {

// Connect times on a LAN are sub-millisecond; across regions tens of milliseconds.
const std::vector<double> kConnectBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05,   0.1,   0.25,   0.5,   1,    2.5};

namespace help = blackbox_help;

bool IsTlsFailure(Reason reason) {
  return reason == Reason::kTlsHandshakeError || reason == Reason::kTlsUntrusted ||
         reason == Reason::kTlsExpired || reason == Reason::kTlsHostnameMismatch;
}

}  // namespace

struct TcpExporter::Attempt {
  net::IpAddress address;
  std::unique_ptr<net::TcpDialer> dialer;
  net::DialResult result;
  bool done = false;
};

TcpExporter::TcpExporter(const TcpConfig& config, net::EventLoop& loop, net::DnsResolver& resolver,
                         std::shared_ptr<net::TlsClientContext> tls, bool peer_compatible)
    : config_(config),
      loop_(loop),
      resolver_(resolver),
      tls_(std::move(tls)),
      peer_compatible_(peer_compatible),
      counters_("probe_tcp_connect_duration_seconds",
                "Time to establish the TCP connection of successful attempts", kConnectBuckets) {
  const auto host_port = net::HostPort::Parse(config.target);  // validated by the schema
  host_ = host_port->host;
  port_ = host_port->port;
  literal_ = net::IpAddress::Parse(host_);
  for (const QueryStepConfig& step : config.query_response) {
    net::QueryStep compiled;
    compiled.expect_source = step.expect;
    if (!step.expect.empty()) compiled.expect = std::make_shared<const re2::RE2>(step.expect);
    compiled.send = step.send;
    steps_.push_back(std::move(compiled));
  }
  if (!peer_compatible_) {
    base_labels_ = {{"check", config.settings.check}, {"target", config.target}};
  }
}

TcpExporter::~TcpExporter() { Cancel(); }

void TcpExporter::Cancel() {
  if (dns_request_ != 0) resolver_.Cancel(dns_request_);
  dns_request_ = 0;
  attempts_.clear();  // destroying a dialer cancels it
  pending_ = 0;
  done_ = nullptr;
}

void TcpExporter::Collect(TimePoint deadline, Done done) {
  done_ = std::move(done);
  deadline_ = deadline;
  started_ = loop_.clock().Now();
  resolution_ = {};
  attempts_.clear();
  counters_.StartRun();
  if (literal_) {  // an IP target needs no resolver round trip
    net::Resolution resolution;
    resolution.addresses = {*literal_};
    OnResolved(std::move(resolution));
    return;
  }
  const auto family =
      config_.preferred_ip_protocol == "ip6" ? net::IpFamily::kIp6 : net::IpFamily::kIp4;
  dns_request_ = resolver_.Resolve(host_, family, deadline, [this](net::Resolution resolution) {
    dns_request_ = 0;
    OnResolved(std::move(resolution));
  });
}

void TcpExporter::OnResolved(net::Resolution resolution) {
  resolution_ = std::move(resolution);
  if (resolution_.reason != Reason::kNone || resolution_.addresses.empty()) {
    Finish();
    return;
  }
  // blackbox_exporter probes one address of the target.
  attempts_.resize(peer_compatible_ ? 1 : resolution_.addresses.size());
  pending_ = attempts_.size();
  const std::string tls_host =
      config_.tls_config.server_name.empty() ? host_ : config_.tls_config.server_name;
  for (size_t i = 0; i < attempts_.size(); ++i) {
    attempts_[i].address = resolution_.addresses[i];
    net::DialOptions options;
    options.address = resolution_.addresses[i];
    options.port = port_;
    options.tls = tls_;
    options.tls_host = tls_host;
    options.steps = steps_;
    options.deadline = deadline_;
    attempts_[i].dialer = net::TcpDialer::Start(
        loop_, std::move(options), [this, i](net::DialResult result) { OnDialed(i, result); });
  }
}

void TcpExporter::OnDialed(size_t index, net::DialResult result) {
  Attempt& attempt = attempts_[index];
  attempt.result = std::move(result);
  attempt.done = true;
  attempt.dialer.reset();  // free its socket now rather than at the next run
  if (--pending_ == 0) Finish();
}

void TcpExporter::Finish() {
  if (peer_compatible_) {
    FinishPeerCompatible();
    return;
  }
  const double dns_seconds = ToSeconds(resolution_.elapsed);
  const double total_seconds = ToSeconds(loop_.clock().Now() - started_);
  CollectResult result;
  result.success = true;
  MetricSet set;
  set.Gauge("probe_dns_lookup_time_seconds", help::kDnsLookup, base_labels_, dns_seconds);

  auto fail = [&result](Reason reason, const std::string& message) {
    if (!result.success) return;
    result.success = false;
    result.reason = reason;
    result.message = message;
  };

  if (attempts_.empty()) {
    // The name did not resolve: one failing series without an address.
    const std::string message = fmt::format(
        "resolving {}: {}", host_, resolution_.error.empty() ? "no addresses" : resolution_.error);
    const Reason reason =
        resolution_.reason == Reason::kNone ? Reason::kDnsError : resolution_.reason;
    fail(reason, message);
    counters_.Record("", reason, std::nullopt);
    set.Gauge("probe_success", help::kSuccess, base_labels_, 0);
    set.Gauge("probe_duration_seconds", help::kDuration, base_labels_, total_seconds);
    set.Gauge("probe_failure_info", help::kFailureInfo,
              WithLabels(base_labels_, {{"reason", std::string(ReasonName(reason))}}), 1);
    result.observations.push_back(
        {host_, false, reason, message, loop_.clock().Now() - started_, {}, {}});
  }

  for (const Attempt& attempt : attempts_) {
    const std::string address = attempt.address.ToString();
    const net::DialResult& dial = attempt.result;
    const bool ok = dial.reason == Reason::kNone;
    const Labels labels = WithLabels(base_labels_, {{"address", address}});
    counters_.Record(address, dial.reason,
                     ok ? std::optional(ToSeconds(dial.connect_time)) : std::nullopt);
    if (!ok) fail(dial.reason, fmt::format("{}: {}", address, dial.message));
    set.Gauge("probe_success", help::kSuccess, labels, ok ? 1 : 0);
    set.Gauge("probe_duration_seconds", help::kDuration, labels,
              dns_seconds + ToSeconds(dial.total));
    set.Gauge("probe_ip_protocol", help::kIpProtocol, labels,
              attempt.address.family() == net::IpFamily::kIp4 ? 4 : 6);
    set.Gauge("probe_ip_addr_hash", help::kIpAddrHash, labels, net::AddressHash(attempt.address));
    set.Gauge("probe_failed_due_to_regex", help::kFailedDueToRegex, labels,
              dial.failed_due_to_regex ? 1 : 0);
    set.Gauge("probe_tcp_duration_seconds", "Duration of the connection's phases in seconds",
              WithLabels(labels, {{"phase", "connect"}}), ToSeconds(dial.connect_time));
    if (!dial.tls_version.empty()) {  // only a completed handshake has a duration to report
      set.Gauge("probe_tcp_duration_seconds", "Duration of the connection's phases in seconds",
                WithLabels(labels, {{"phase", "tls"}}), ToSeconds(dial.tls_time));
    }
    if (dial.earliest_cert_expiry) {
      set.Gauge("probe_ssl_earliest_cert_expiry", help::kSslEarliestCertExpiry, labels,
                *dial.earliest_cert_expiry);
    }
    if (!dial.tls_version.empty()) {
      set.Gauge("probe_tls_version_info", help::kTlsVersionInfo,
                WithLabels(labels, {{"version", dial.tls_version}}), 1);
    }
    if (!ok) {
      set.Gauge("probe_failure_info", help::kFailureInfo,
                WithLabels(labels, {{"reason", std::string(ReasonName(dial.reason))}}), 1);
    }
    Observation observation{address,     ok,
                            dial.reason, ok ? "connected" : dial.message,
                            dial.total,  {{"connect_seconds", ToSeconds(dial.connect_time)}},
                            {}};
    if (!dial.tls_version.empty()) observation.figures["tls_seconds"] = ToSeconds(dial.tls_time);
    if (dial.earliest_cert_expiry)
      observation.figures["cert_expiry_unix"] = *dial.earliest_cert_expiry;
    result.observations.push_back(std::move(observation));
  }

  counters_.AddTo(set, base_labels_);
  if (result.success) {
    result.message =
        fmt::format("{} of {} addresses connected", attempts_.size(), attempts_.size());
  }
  result.families = set.Take();
  CallOnce(done_, std::move(result));
}

void TcpExporter::FinishPeerCompatible() {
  const Duration took = loop_.clock().Now() - started_;
  CollectResult result;
  MetricSet set;
  set.Gauge("probe_dns_lookup_time_seconds", help::kDnsLookup, {}, ToSeconds(resolution_.elapsed));
  // What blackbox_exporter reports before it has an address: zero protocol and hash.
  double ip_protocol = 0;
  double ip_hash = 0;
  bool failed_due_to_regex = false;
  if (attempts_.empty()) {
    result.reason = resolution_.reason == Reason::kNone ? Reason::kDnsError : resolution_.reason;
    result.message = fmt::format("resolving {}: {}", host_,
                                 resolution_.error.empty() ? "no addresses" : resolution_.error);
    result.observations.push_back({host_, false, result.reason, result.message, took, {}, {}});
  } else {
    const Attempt& attempt = attempts_.front();
    const net::DialResult& dial = attempt.result;
    const std::string address = attempt.address.ToString();
    result.success = dial.reason == Reason::kNone;
    result.reason = dial.reason;
    result.message = result.success ? "connected" : fmt::format("{}: {}", address, dial.message);
    ip_protocol = attempt.address.family() == net::IpFamily::kIp4 ? 4 : 6;
    ip_hash = net::AddressHash(attempt.address);
    failed_due_to_regex = dial.failed_due_to_regex;
    // blackbox_exporter reports the certificate only once its handshake (verification
    // included) succeeded, and with its own help texts.
    if (!dial.tls_version.empty() && !IsTlsFailure(dial.reason)) {
      if (dial.earliest_cert_expiry) {
        set.Gauge("probe_ssl_earliest_cert_expiry", help::kSslEarliestCertExpiry, {},
                  *dial.earliest_cert_expiry);
      }
      set.Gauge("probe_tls_version_info", help::kTlsVersionInfo, {{"version", dial.tls_version}},
                1);
    }
    Observation observation{address,     result.success,
                            dial.reason, result.success ? "connected" : dial.message,
                            dial.total,  {{"connect_seconds", ToSeconds(dial.connect_time)}},
                            {}};
    if (dial.earliest_cert_expiry) {
      observation.figures["cert_expiry_unix"] = *dial.earliest_cert_expiry;
    }
    result.observations.push_back(std::move(observation));
  }
  set.Gauge("probe_failed_due_to_regex", help::kFailedDueToRegex, {}, failed_due_to_regex ? 1 : 0);
  set.Gauge("probe_ip_addr_hash", help::kIpAddrHash, {}, ip_hash);
  set.Gauge("probe_ip_protocol", help::kIpProtocol, {}, ip_protocol);
  set.Gauge("probe_duration_seconds", help::kDuration, {}, ToSeconds(took));
  set.Gauge("probe_success", help::kSuccess, {}, result.success ? 1 : 0);
  result.families = set.Take();
  CallOnce(done_, std::move(result));
}

namespace {

class TcpFactory final : public TypedExporterFactory<TcpConfig> {
 public:
  std::string_view name() const override { return "tcp"; }
  std::string_view summary() const override {
    return "TCP endpoint checks: connect (optionally TLS and send/expect) to every address";
  }
  ProbeSupport probe_support() const override { return {"tcp", "target", "probe.invalid:1"}; }

 protected:
  const config::Schema<TcpConfig>& TypedSchema() const override { return TcpSchema(); }
  std::string Target(const TcpConfig& config) const override { return config.target; }

  Status Prepare(TcpConfig& config, const YAML::Node& node,
                 const config::ParseContext& ctx) const override {
    if (!config.tls) return Status::Ok();
    auto context = LoadTlsContext(config.tls_config, node, ctx);
    if (!context.ok()) return context.status();
    config.tls_context = std::move(context).value();
    return Status::Ok();
  }

  Result<std::unique_ptr<Exporter>> Make(const TcpConfig& config, ExporterEnv& env) const override {
    auto resolver = env.resolvers.Get(config.dns_servers);
    if (!resolver.ok()) return resolver.status();
    return std::unique_ptr<Exporter>(std::make_unique<TcpExporter>(
        config, env.loop, **resolver, config.tls_context, env.peer_compatible));
  }
};

}  // namespace

std::unique_ptr<ExporterFactory> MakeTcpFactory() { return std::make_unique<TcpFactory>(); }

}  // namespace sre::exporters::tcp
