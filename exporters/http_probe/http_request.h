#pragma once

#include <curl/curl.h>

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/base/clock.h"
#include "agent/core/reason.h"
#include "agent/net/certificate.h"
#include "agent/net/curl_multi.h"
#include "agent/net/ip_address.h"
#include "exporters/http_probe/http_config.h"
#include "exporters/http_probe/response_rules.h"

namespace sre::exporters::http_probe {

/// blackbox_exporter's `phase` label values, in its order.
enum class Phase { kResolve, kConnect, kTls, kProcessing, kTransfer };
inline constexpr std::array<const char*, 5> kPhaseNames = {"resolve", "connect", "tls",
                                                           "processing", "transfer"};

/// What one probe of one address came to.
struct HttpOutcome {
  Reason reason = Reason::kNone;
  std::string message;
  bool failed_due_to_regex = false;

  long status = 0;           ///< of the last response; 0 when none came
  std::string http_version;  ///< "HTTP/1.1", "HTTP/2.0"; empty when no response came
  int redirects = 0;
  bool ssl = false;           ///< the last response came over TLS
  double content_length = 0;  ///< its Content-Length; -1 when it had none
  int64_t body_length = 0;    ///< decoded body bytes read
  std::optional<double> last_modified_unix;
  /// Seconds per phase, summed over every hop; resolve includes the caller's DNS time.
  std::array<double, 5> phases{};
  Duration duration{0};  ///< DNS and every hop

  // Of the last TLS handshake, also when it failed (an expired or untrusted certificate).
  std::string tls_version;  ///< "TLS 1.3"
  std::optional<double> earliest_cert_expiry;
  std::optional<double> verified_chain_expiry;  ///< earliest notAfter of the verified chain
  std::optional<net::CertificateInfo> leaf;
};

/// What every request of one probe sends, prepared once from its config. Immutable; shared by
/// the probe's requests on the loop thread.
struct RequestPlan {
  RequestPlan(const HttpOptions& options, std::string url, std::string host_header);
  RequestPlan(const RequestPlan&) = delete;
  RequestPlan& operator=(const RequestPlan&) = delete;
  ~RequestPlan();

  HttpOptions options;
  ResponseRules rules;
  std::string url;       ///< with its scheme
  std::string url_host;  ///< as in the URL ("[::1]" for IPv6)
  std::string dns_host;  ///< what to resolve ("::1")
  bool https = false;
  int64_t body_limit = kDefaultBodyLimit;
  curl_slist* headers = nullptr;  ///< request headers (Host, Authorization, the configured ones)
};

/// One probe of one address: libcurl's multi interface on the event loop, the connection pinned
/// to the address with CURLOPT_CONNECT_TO (the URL, Host header, SNI and certificate check stay
/// the name's), a fresh connection and no TLS session reuse, as a first-time visitor sees it.
/// Redirects are followed here, not by curl, so that every hop's phases add up as
/// blackbox_exporter reports them. Certificates are read in OpenSSL's verify step, so their
/// expiry is known even when verification fails. Reusable run after run (the curl handle is
/// kept). Loop-thread only.
class HttpRequest {
 public:
  using Done = std::function<void(HttpOutcome)>;

  HttpRequest(net::CurlMulti& multi, std::shared_ptr<const RequestPlan> plan);
  ~HttpRequest();
  HttpRequest(const HttpRequest&) = delete;
  HttpRequest& operator=(const HttpRequest&) = delete;

  /// Starts the probe; `done` runs once, on the loop, no later than `deadline` (curl enforces
  /// it), unless Cancel() comes first. `dns_seconds` is added to the resolve phase.
  void Start(const net::IpAddress& address, double dns_seconds, TimePoint now, TimePoint deadline,
             Done done);
  void Cancel();

 private:
  static size_t OnBody(char* data, size_t size, size_t count, void* self);
  static size_t OnHeader(char* data, size_t size, size_t count, void* self);
  static CURLcode OnSslContext(CURL* easy, void* ssl_ctx, void* self);
  static int OnVerify(X509_STORE_CTX* store, void* self);

  void StartHop(const std::string& url);
  void OnHopDone(CURLcode code);
  void AddHopTimings();
  void Finish();
  Reason ReasonFor(CURLcode code) const;

  net::CurlMulti& multi_;
  const std::shared_ptr<const RequestPlan> plan_;
  CURL* easy_ = nullptr;
  curl_slist* connect_to_ = nullptr;  // "host::address:", for connected_address_
  net::IpAddress connected_address_;
  char error_[CURL_ERROR_SIZE] = {};

  // The running probe.
  Done done_;
  TimePoint started_;
  TimePoint deadline_;
  std::string method_;
  bool send_body_ = true;
  HttpOutcome outcome_;
  HeaderList response_headers_;
  std::string body_;
  bool body_too_large_ = false;
  long verify_result_ = 0;  // X509_V_OK, or why OpenSSL rejected the chain (this hop)
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // for tasks posted to the loop
};

}  // namespace sre::exporters::http_probe
