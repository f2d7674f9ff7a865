#include "exporters/tcp/tcp_exporter.h"

#include <fmt/format.h>

#include "agent/net/event_loop.h"

namespace sre::exporters::tcp {
namespace {

// Connect times on a LAN are sub-millisecond; across regions tens of milliseconds.
const std::vector<double> kConnectBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05,   0.1,   0.25,   0.5,   1,    2.5};
// Counters of an address that has not resolved for this many runs are dropped.
constexpr uint64_t kForgetAfterRuns = 100;

uint32_t Fnv1a32(std::string_view text) {
  uint32_t hash = 2166136261u;
  for (unsigned char c : text) hash = (hash ^ c) * 16777619u;
  return hash;
}

}  // namespace

struct TcpExporter::AddressState {
  uint64_t attempts = 0;
  std::map<Reason, uint64_t> failures;
  Histogram connect{kConnectBuckets};
  uint64_t last_seen_run = 0;
};

struct TcpExporter::Attempt {
  net::IpAddress address;
  std::unique_ptr<net::TcpDialer> dialer;
  net::DialResult result;
  bool done = false;
};

TcpExporter::TcpExporter(const TcpConfig& config, net::EventLoop& loop, net::DnsResolver& resolver,
                         std::shared_ptr<net::TlsClientContext> tls)
    : config_(config), loop_(loop), resolver_(resolver), tls_(std::move(tls)) {
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
  base_labels_ = {{"check", config.settings.check}, {"target", config.target}};
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
  ++runs_;
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
  attempts_.resize(resolution_.addresses.size());
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

TcpExporter::AddressState& TcpExporter::StateFor(const std::string& address) {
  auto& state = addresses_[address];
  if (!state) state = std::make_unique<AddressState>();
  state->last_seen_run = runs_;
  return *state;
}

void TcpExporter::Finish() {
  const double dns_seconds = ToSeconds(resolution_.elapsed);
  const double total_seconds = ToSeconds(loop_.clock().Now() - started_);
  CollectResult result;
  result.success = true;
  MetricSet set;
  set.Gauge("probe_dns_lookup_time_seconds",
            "Returns the time taken for probe dns lookup in seconds", base_labels_, dns_seconds);

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
    AddressState& state = StateFor("");
    ++state.attempts;
    ++state.failures[reason];
    set.Gauge("probe_success", "Displays whether or not the probe was a success", base_labels_, 0);
    set.Gauge("probe_duration_seconds", "Returns how long the probe took to complete in seconds",
              base_labels_, total_seconds);
    set.Gauge("probe_failure_info", "Why the probe failed: 1 for the current reason",
              WithLabels(base_labels_, {{"reason", std::string(ReasonName(reason))}}), 1);
    result.observations.push_back(
        {host_, false, reason, message, loop_.clock().Now() - started_, {}});
  }

  for (const Attempt& attempt : attempts_) {
    const std::string address = attempt.address.ToString();
    const net::DialResult& dial = attempt.result;
    const bool ok = dial.reason == Reason::kNone;
    const Labels labels = WithLabels(base_labels_, {{"address", address}});
    AddressState& state = StateFor(address);
    ++state.attempts;
    if (ok) {
      state.connect.Observe(ToSeconds(dial.connect_time));
    } else {
      ++state.failures[dial.reason];
      fail(dial.reason, fmt::format("{}: {}", address, dial.message));
    }
    set.Gauge("probe_success", "Displays whether or not the probe was a success", labels,
              ok ? 1 : 0);
    set.Gauge("probe_duration_seconds", "Returns how long the probe took to complete in seconds",
              labels, dns_seconds + ToSeconds(dial.total));
    set.Gauge("probe_ip_protocol", "Specifies whether probe ip protocol is IP4 or IP6", labels,
              attempt.address.family() == net::IpFamily::kIp4 ? 4 : 6);
    set.Gauge("probe_ip_addr_hash",
              "Specifies the hash of IP address. It's useful to detect if "
              "the IP address changes.",
              labels, Fnv1a32(address));
    set.Gauge("probe_failed_due_to_regex", "Indicates if probe failed due to regex", labels,
              dial.failed_due_to_regex ? 1 : 0);
    set.Gauge("probe_tcp_duration_seconds", "Duration of the connection's phases in seconds",
              WithLabels(labels, {{"phase", "connect"}}), ToSeconds(dial.connect_time));
    if (!dial.tls_version.empty()) {  // only a completed handshake has a duration to report
      set.Gauge("probe_tcp_duration_seconds", "Duration of the connection's phases in seconds",
                WithLabels(labels, {{"phase", "tls"}}), ToSeconds(dial.tls_time));
    }
    if (dial.earliest_cert_expiry) {
      set.Gauge("probe_ssl_earliest_cert_expiry", "Returns earliest SSL cert expiry date", labels,
                *dial.earliest_cert_expiry);
    }
    if (!dial.tls_version.empty()) {
      set.Gauge("probe_tls_version_info", "Contains the TLS version used",
                WithLabels(labels, {{"version", dial.tls_version}}), 1);
    }
    if (!ok) {
      set.Gauge("probe_failure_info", "Why the probe failed: 1 for the current reason",
                WithLabels(labels, {{"reason", std::string(ReasonName(dial.reason))}}), 1);
    }
    Observation observation{address,     ok,
                            dial.reason, ok ? "connected" : dial.message,
                            dial.total,  {{"connect_seconds", ToSeconds(dial.connect_time)}}};
    if (!dial.tls_version.empty()) observation.figures["tls_seconds"] = ToSeconds(dial.tls_time);
    if (dial.earliest_cert_expiry)
      observation.figures["cert_expiry_unix"] = *dial.earliest_cert_expiry;
    result.observations.push_back(std::move(observation));
  }

  // SLO counters of every address seen lately, so one DNS hiccup does not reset their series.
  std::erase_if(addresses_, [this](const auto& entry) {
    return runs_ - entry.second->last_seen_run > kForgetAfterRuns;
  });
  for (const auto& [address, state] : addresses_) {
    const Labels labels =
        address.empty() ? base_labels_ : WithLabels(base_labels_, {{"address", address}});
    set.Counter("probe_attempts_total", "Probe attempts of this check", labels,
                static_cast<double>(state->attempts));
    for (const auto& [reason, count] : state->failures) {
      set.Counter("probe_failures_total", "Failed probe attempts of this check, by reason",
                  WithLabels(labels, {{"reason", std::string(ReasonName(reason))}}),
                  static_cast<double>(count));
    }
    if (!address.empty()) {
      set.Histogram("probe_tcp_connect_duration_seconds",
                    "Time to establish the TCP connection of successful attempts", labels,
                    state->connect.ToMetric());
    }
  }
  if (result.success) {
    result.message =
        fmt::format("{} of {} addresses connected", attempts_.size(), attempts_.size());
  }
  result.families = set.Take();
  Done done = std::move(done_);
  done_ = nullptr;
  if (done) done(std::move(result));
}

namespace {

class TcpFactory final : public TypedExporterFactory<TcpConfig> {
 public:
  std::string_view name() const override { return "tcp"; }
  std::string_view summary() const override {
    return "TCP endpoint checks: connect (optionally TLS and send/expect) to every address";
  }

 protected:
  const config::Schema<TcpConfig>& TypedSchema() const override { return TcpSchema(); }
  std::string Target(const TcpConfig& config) const override { return config.target; }

  Status Prepare(TcpConfig& config, const YAML::Node& node,
                 const config::ParseContext& ctx) const override {
    if (!config.tls) return Status::Ok();
    auto context = net::TlsClientContext::Create(ToTlsOptions(config.tls_config));
    if (!context.ok()) {
      return ctx.ErrorAt(node["tls_config"] ? node["tls_config"] : node,
                         context.status().message());
    }
    config.tls_context = std::move(context).value();
    return Status::Ok();
  }

  Result<std::unique_ptr<Exporter>> Make(const TcpConfig& config, ExporterEnv& env) const override {
    auto resolver = env.resolvers.Get(config.dns_servers);
    if (!resolver.ok()) return resolver.status();
    return std::unique_ptr<Exporter>(
        std::make_unique<TcpExporter>(config, env.loop, **resolver, config.tls_context));
  }
};

}  // namespace

std::unique_ptr<ExporterFactory> MakeTcpFactory() { return std::make_unique<TcpFactory>(); }

}  // namespace sre::exporters::tcp
