#include "exporters/http_probe/http_exporter.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "agent/base/callback.h"
#include "agent/net/event_loop.h"
#include "agent/net/tls_client.h"
#include "exporters/common/blackbox_help.h"

namespace sre::exporters::http_probe {
namespace {

// Request durations from a LAN health check (milliseconds) to a slow page across regions.
const std::vector<double> kDurationBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                              0.5,   1,    2.5,   5,    10};

// The phases as sre-probe's figures ("connect_seconds" prints as "connect 0.1 ms").
constexpr std::array<const char*, 5> kPhaseFigures = {
    "resolve_seconds", "connect_seconds", "tls_seconds", "processing_seconds", "transfer_seconds"};

namespace help = blackbox_help;

double HttpVersionNumber(const std::string& version) {
  if (version == "HTTP/1.0") return 1.0;
  if (version == "HTTP/1.1") return 1.1;
  if (version == "HTTP/2.0") return 2;
  if (version == "HTTP/3.0") return 3;
  return 0;
}

}  // namespace

struct HttpProbeExporter::Attempt {
  net::IpAddress address;
  HttpRequest* request = nullptr;
  HttpOutcome outcome;
};

HttpProbeExporter::HttpProbeExporter(const HttpProbeConfig& config, ExporterEnv& env,
                                     net::DnsResolver& resolver)
    : config_(config),
      env_(env),
      resolver_(resolver),
      plan_(std::make_shared<RequestPlan>(config.http, config.url, config.host)),
      counters_("probe_http_request_duration_seconds",
                "Duration of the probe's requests that got a response, redirects included",
                kDurationBuckets),
      sla_(config.min_failures) {
  literal_ = net::IpAddress::Parse(plan_->dns_host);
  if (!env_.peer_compatible)
    base_labels_ = {{"check", config.settings.check}, {"target", config.url}};
}

HttpProbeExporter::~HttpProbeExporter() { Cancel(); }

void HttpProbeExporter::Cancel() {
  if (dns_request_ != 0) resolver_.Cancel(dns_request_);
  dns_request_ = 0;
  for (Attempt& attempt : attempts_) attempt.request->Cancel();
  attempts_.clear();
  pending_ = 0;
  done_ = nullptr;
}

void HttpProbeExporter::Collect(TimePoint deadline, Done done) {
  done_ = std::move(done);
  deadline_ = deadline;
  started_ = env_.loop.clock().Now();
  started_unix_ = env_.loop.clock().WallSeconds();
  resolution_ = {};
  attempts_.clear();
  counters_.StartRun();
  if (literal_) {  // an IP address needs no resolver round trip
    net::Resolution resolution;
    resolution.addresses = {*literal_};
    OnResolved(std::move(resolution));
    return;
  }
  const auto family =
      config_.http.preferred_ip_protocol == "ip6" ? net::IpFamily::kIp6 : net::IpFamily::kIp4;
  dns_request_ =
      resolver_.Resolve(plan_->dns_host, family, deadline, [this](net::Resolution resolution) {
        dns_request_ = 0;
        OnResolved(std::move(resolution));
      });
}

void HttpProbeExporter::OnResolved(net::Resolution resolution) {
  resolution_ = std::move(resolution);
  auto& addresses = resolution_.addresses;
  if (!config_.http.ip_protocol_fallback) {
    const auto wanted =
        config_.http.preferred_ip_protocol == "ip6" ? net::IpFamily::kIp6 : net::IpFamily::kIp4;
    std::erase_if(addresses, [wanted](const net::IpAddress& a) { return a.family() != wanted; });
    if (addresses.empty() && resolution_.reason == Reason::kNone) {
      resolution_.error = "no " + config_.http.preferred_ip_protocol + " address";
    }
  }
  if (resolution_.reason != Reason::kNone || addresses.empty()) {
    Finish();
    return;
  }
  // blackbox_exporter probes the first address; so does `per_address: false`.
  if (env_.peer_compatible || !config_.per_address) addresses.resize(1);
  attempts_.resize(addresses.size());
  pending_ = attempts_.size();
  const double dns_seconds = ToSeconds(resolution_.elapsed);
  const TimePoint now = env_.loop.clock().Now();
  // Requests (and their curl handles) are reused for the addresses probed last time.
  const bool same_addresses =
      requests_.size() == addresses.size() &&
      std::all_of(addresses.begin(), addresses.end(),
                  [this](const net::IpAddress& a) { return requests_.contains(a.ToString()); });
  if (!same_addresses) {
    std::map<std::string, std::unique_ptr<HttpRequest>> requests;
    for (const net::IpAddress& address : addresses) {
      const std::string key = address.ToString();
      auto previous = requests_.find(key);
      requests[key] = previous != requests_.end() ? std::move(previous->second)
                                                  : std::make_unique<HttpRequest>(env_.curl, plan_);
    }
    requests_ = std::move(requests);
  }
  for (size_t i = 0; i < attempts_.size(); ++i) {
    attempts_[i].address = addresses[i];
    attempts_[i].request = requests_.at(addresses[i].ToString()).get();
  }
  // Started only once every attempt is set up: a request may finish (and Finish) synchronously.
  for (size_t i = 0; i < attempts_.size(); ++i) {
    attempts_[i].request->Start(
        attempts_[i].address, dns_seconds, now, deadline_,
        [this, i](HttpOutcome outcome) { OnOutcome(i, std::move(outcome)); });
  }
}

void HttpProbeExporter::OnOutcome(size_t index, HttpOutcome outcome) {
  attempts_[index].outcome = std::move(outcome);
  if (--pending_ == 0) Finish();
}

void HttpProbeExporter::AddAttemptSeries(MetricSet& set, const Attempt& attempt) const {
  const HttpOutcome& o = attempt.outcome;
  const bool ok = o.reason == Reason::kNone;
  const Labels labels = env_.peer_compatible
                            ? Labels{}
                            : WithLabels(base_labels_, {{"address", attempt.address.ToString()}});
  set.Gauge("probe_success", help::kSuccess, labels, ok ? 1 : 0);
  set.Gauge("probe_duration_seconds", help::kDuration, labels, ToSeconds(o.duration));
  for (size_t phase = 0; phase < kPhaseNames.size(); ++phase) {
    set.Gauge("probe_http_duration_seconds",
              "Duration of http request by phase, summed over all redirects",
              WithLabels(labels, {{"phase", kPhaseNames[phase]}}), o.phases[phase]);
  }
  set.Gauge("probe_http_status_code", "Response HTTP status code", labels,
            static_cast<double>(o.status));
  set.Gauge("probe_http_content_length", "Length of http content response", labels,
            o.status > 0 ? o.content_length : 0);
  set.Gauge("probe_http_uncompressed_body_length", "Length of uncompressed response body", labels,
            static_cast<double>(o.body_length));
  set.Gauge("probe_http_redirects", "The number of redirects", labels, o.redirects);
  set.Gauge("probe_http_ssl", "Indicates if SSL was used for the final redirect", labels,
            o.ssl ? 1 : 0);
  set.Gauge("probe_http_version", "Returns the version of HTTP of the probe response", labels,
            HttpVersionNumber(o.http_version));
  if (o.last_modified_unix) {
    set.Gauge("probe_http_last_modified_timestamp_seconds",
              "Returns the Last-Modified HTTP response header in unixtime", labels,
              *o.last_modified_unix);
  }
  set.Gauge("probe_failed_due_to_regex", help::kFailedDueToRegex, labels,
            o.failed_due_to_regex ? 1 : 0);
  set.Gauge("probe_ip_protocol", help::kIpProtocol, labels,
            attempt.address.family() == net::IpFamily::kIp4 ? 4 : 6);
  set.Gauge("probe_ip_addr_hash", help::kIpAddrHash, labels, net::AddressHash(attempt.address));
  // Certificates are reported even when they failed verification: expired and untrusted ones
  // are exactly those someone needs to see.
  if (o.earliest_cert_expiry) {
    set.Gauge("probe_ssl_earliest_cert_expiry", help::kSslEarliestCertExpiry, labels,
              *o.earliest_cert_expiry);
  }
  if (o.verified_chain_expiry) {
    set.Gauge("probe_ssl_last_chain_expiry_timestamp_seconds",
              "Returns last SSL chain expiry in timestamp", labels, *o.verified_chain_expiry);
  }
  if (o.leaf) {
    set.Gauge("probe_ssl_last_chain_info", "Contains SSL leaf certificate information",
              WithLabels(labels, {{"fingerprint_sha256", o.leaf->fingerprint_sha256},
                                  {"issuer", o.leaf->issuer},
                                  {"subject", o.leaf->subject},
                                  {"subjectalternative", o.leaf->subject_alternative}}),
              1);
  }
  if (!o.tls_version.empty()) {
    set.Gauge("probe_tls_version_info", help::kTlsVersionInfo,
              WithLabels(labels, {{"version", o.tls_version}}), 1);
  }
  if (!ok && !env_.peer_compatible) {
    set.Gauge("probe_failure_info", help::kFailureInfo,
              WithLabels(labels, {{"reason", std::string(ReasonName(o.reason))}}), 1);
  }
}

void HttpProbeExporter::AddSlaSeries(MetricSet& set) const {
  const double now_unix = env_.loop.clock().WallSeconds();
  set.Gauge("probe_sla_violation_open", "1 while the probe's SLA is violated: an address fails",
            base_labels_, sla_.open() ? 1 : 0);
  set.Counter("probe_sla_violations_total", "SLA violations opened", base_labels_,
              static_cast<double>(sla_.opened_total()));
  set.Counter("probe_sla_violation_seconds_total", "Seconds the probe's SLA was violated",
              base_labels_, sla_.ViolationSeconds(now_unix));
}

void HttpProbeExporter::Finish() {
  CollectResult result;
  result.success = true;
  MetricSet set;
  set.Gauge("probe_dns_lookup_time_seconds", help::kDnsLookup, base_labels_,
            ToSeconds(resolution_.elapsed));
  std::map<std::string, Reason> failing;
  auto fail = [&result](Reason reason, const std::string& message) {
    if (!result.success) return;
    result.success = false;
    result.reason = reason;
    result.message = message;
  };

  if (attempts_.empty()) {
    // The name did not resolve: one failing series without an address.
    const Reason reason =
        resolution_.reason == Reason::kNone ? Reason::kDnsError : resolution_.reason;
    const std::string message =
        fmt::format("resolving {}: {}", plan_->dns_host,
                    resolution_.error.empty() ? "no addresses" : resolution_.error);
    fail(reason, message);
    failing[""] = reason;
    set.Gauge("probe_success", help::kSuccess, base_labels_, 0);
    set.Gauge("probe_duration_seconds", help::kDuration, base_labels_,
              ToSeconds(env_.loop.clock().Now() - started_));
    if (!env_.peer_compatible) {
      counters_.Record("", reason, std::nullopt);
      set.Gauge("probe_failure_info", help::kFailureInfo,
                WithLabels(base_labels_, {{"reason", std::string(ReasonName(reason))}}), 1);
    }
    result.observations.push_back(
        {plan_->dns_host, false, reason, message, env_.loop.clock().Now() - started_, {}, {}});
  }

  for (const Attempt& attempt : attempts_) {
    const HttpOutcome& o = attempt.outcome;
    const std::string address = attempt.address.ToString();
    const bool ok = o.reason == Reason::kNone;
    AddAttemptSeries(set, attempt);
    counters_.Record(address, o.reason,
                     o.status > 0 ? std::optional(ToSeconds(o.duration)) : std::nullopt);
    if (!ok) {
      failing[address] = o.reason;
      fail(o.reason, fmt::format("{}: {}", address, o.message));
    }
    Observation observation{address, ok, o.reason, o.message, o.duration, {}, {}};
    for (size_t phase = 0; phase < kPhaseFigures.size(); ++phase) {
      observation.figures[kPhaseFigures[phase]] = o.phases[phase];
    }
    if (o.status > 0) observation.figures["status"] = static_cast<double>(o.status);
    observation.figures["redirects"] = o.redirects;
    if (!o.http_version.empty()) observation.details["http_version"] = o.http_version;
    if (!o.tls_version.empty()) observation.details["tls_version"] = o.tls_version;
    if (o.leaf) {
      observation.details["certificate_subject"] = o.leaf->subject;
      observation.details["certificate_issuer"] = o.leaf->issuer;
    }
    if (o.earliest_cert_expiry) {
      observation.figures["certificate_days_left"] =
          std::floor((*o.earliest_cert_expiry - env_.loop.clock().WallSeconds()) / 86400);
    }
    result.observations.push_back(std::move(observation));
  }

  if (!env_.peer_compatible) {
    sla_.Record(started_unix_, failing);
    counters_.AddTo(set, base_labels_);
    AddSlaSeries(set);
    result.incidents = sla_.Describe(env_.loop.clock().WallSeconds());
  }
  if (result.success) {
    result.message = attempts_.size() == 1 ? attempts_.front().outcome.message
                                           : fmt::format("{} of {} addresses answered as expected",
                                                         attempts_.size(), attempts_.size());
  }
  result.families = set.Take();
  CallOnce(done_, std::move(result));
}

namespace {

class HttpProbeFactory final : public TypedExporterFactory<HttpProbeConfig> {
 public:
  std::string_view name() const override { return "http_probe"; }
  std::string_view summary() const override {
    return "HTTP(S) SLA probes: every address, phases, certificates, SLO counters, SLA windows";
  }
  ProbeSupport probe_support() const override { return {"http", "url", "http://probe.invalid/"}; }

 protected:
  const config::Schema<HttpProbeConfig>& TypedSchema() const override { return HttpProbeSchema(); }
  std::string Target(const HttpProbeConfig& config) const override { return config.url; }

  Status Prepare(HttpProbeConfig& config, const YAML::Node& node,
                 const config::ParseContext& ctx) const override {
    // curl reads these files per connection; reading them once here catches a bad file (or a
    // key that does not match its certificate) when the config is loaded, not at 3 a.m.
    const TlsConfig& tls = config.http.tls_config;
    if (tls.ca_file.path.empty() && tls.cert_file.path.empty()) return Status::Ok();
    return LoadTlsContext(tls, node, ctx).status();
  }

  Result<std::unique_ptr<Exporter>> Make(const HttpProbeConfig& config,
                                         ExporterEnv& env) const override {
    auto resolver = env.resolvers.Get(config.dns_servers);
    if (!resolver.ok()) return resolver.status();
    return std::unique_ptr<Exporter>(std::make_unique<HttpProbeExporter>(config, env, **resolver));
  }
};

}  // namespace

std::unique_ptr<ExporterFactory> MakeHttpProbeFactory() {
  return std::make_unique<HttpProbeFactory>();
}

}  // namespace sre::exporters::http_probe
