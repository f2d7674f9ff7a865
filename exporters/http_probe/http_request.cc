#include "exporters/http_probe/http_request.h"

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <strings.h>

#include <algorithm>
#include <cerrno>

#include "agent/base/callback.h"
#include "agent/net/tls_client.h"

namespace sre::exporters::http_probe {
namespace {

std::string UrlPart(const std::string& url, CURLUPart part) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> parsed(curl_url(), &curl_url_cleanup);
  if (curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return "";
  char* value = nullptr;
  if (curl_url_get(parsed.get(), part, &value, 0) != CURLUE_OK) return "";
  std::string out = value;
  curl_free(value);
  return out;
}

bool HasHeader(const std::map<std::string, std::string>& headers, const char* name) {
  return std::any_of(headers.begin(), headers.end(), [name](const auto& header) {
    return strcasecmp(header.first.c_str(), name) == 0;
  });
}

// Microseconds, as curl measures them: phases are differences of these, taken before converting
// to seconds so that 1256 us is 0.001256 and not 0.0012560000000000002.
curl_off_t Micros(CURL* easy, CURLINFO info) {
  curl_off_t microseconds = 0;
  curl_easy_getinfo(easy, info, &microseconds);
  return microseconds;
}

}  // namespace

RequestPlan::RequestPlan(const HttpOptions& options_in, std::string url_in, std::string host_header)
    : options(options_in), rules(options_in), url(NormalizeUrl(url_in)) {
  url_host = UrlPart(url, CURLUPART_HOST);
  dns_host = url_host;
  if (dns_host.size() > 2 && dns_host.front() == '[')
    dns_host = dns_host.substr(1, dns_host.size() - 2);
  https = UrlPart(url, CURLUPART_SCHEME) == "https";
  if (!options.body_size_limit.empty()) {
    body_limit = std::min(ParseByteSize(options.body_size_limit).value_or(kDefaultBodyLimit),
                          kDefaultBodyLimit);
    if (body_limit == 0) body_limit = kDefaultBodyLimit;  // 0 means "no limit" to blackbox
  }
  for (const auto& [name, value] : options.headers) {
    headers = curl_slist_append(headers, fmt::format("{}: {}", name, value).c_str());
  }
  if (!host_header.empty() && !HasHeader(options.headers, "Host")) {
    headers = curl_slist_append(headers, fmt::format("Host: {}", host_header).c_str());
  }
  if (!options.bearer_token.empty() && !HasHeader(options.headers, "Authorization")) {
    headers = curl_slist_append(
        headers, fmt::format("Authorization: Bearer {}", options.bearer_token).c_str());
  }
  if (!HasHeader(options.headers, "User-Agent")) {
    headers = curl_slist_append(headers, "User-Agent: sre-agent");
  }
}

RequestPlan::~RequestPlan() { curl_slist_free_all(headers); }

HttpRequest::HttpRequest(net::CurlMulti& multi, std::shared_ptr<const RequestPlan> plan)
    : multi_(multi), plan_(std::move(plan)), easy_(curl_easy_init()) {}

HttpRequest::~HttpRequest() {
  Cancel();
  curl_easy_cleanup(easy_);
  curl_slist_free_all(connect_to_);
}

void HttpRequest::Cancel() {
  multi_.Remove(easy_);
  done_ = nullptr;
}

void HttpRequest::Start(const net::IpAddress& address, double dns_seconds, TimePoint now,
                        TimePoint deadline, Done done) {
  done_ = std::move(done);
  started_ = now;
  deadline_ = deadline;
  outcome_ = {};
  outcome_.phases[static_cast<size_t>(Phase::kResolve)] = dns_seconds;
  outcome_.duration =
      std::chrono::duration_cast<Duration>(std::chrono::duration<double>(dns_seconds));
  method_ = plan_->options.method;
  send_body_ = true;
  // Only the probed name goes to `address`; a redirect to another host resolves on its own.
  const std::string ip =
      address.family() == net::IpFamily::kIp6 ? "[" + address.ToString() + "]" : address.ToString();
  curl_slist_free_all(connect_to_);
  connect_to_ = curl_slist_append(nullptr, fmt::format("{}::{}:", plan_->url_host, ip).c_str());
  StartHop(plan_->url);
}

void HttpRequest::StartHop(const std::string& url) {
  response_headers_.clear();
  body_.clear();
  body_too_large_ = false;
  verify_result_ = X509_V_OK;
  error_[0] = '\0';
  const HttpOptions& options = plan_->options;
  CURL* e = easy_;
  curl_easy_reset(e);
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_CONNECT_TO, connect_to_);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);  // a resumed session sends no certificate
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error_);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, plan_->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &HttpRequest::OnBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &HttpRequest::OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, this);
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline_ - multi_.loop().clock().Now());
  const long left_ms = std::max<long>(1, static_cast<long>(left.count()));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, left_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, left_ms);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                   options.enable_http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
  if (!options.compression.empty()) {
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, options.compression.c_str());
  }
  if (method_ == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (method_ != "GET") {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method_.c_str());
  }
  if (send_body_ && !options.body.empty()) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(options.body.size()));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, options.body.c_str());
    if (method_ == "GET") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "GET");
  }
  if (!options.basic_auth.username.empty()) {
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(e, CURLOPT_USERNAME, options.basic_auth.username.c_str());
    curl_easy_setopt(e, CURLOPT_PASSWORD, options.basic_auth.password.c_str());
  }
  const TlsConfig& tls = options.tls_config;
  if (!tls.ca_file.path.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, tls.ca_file.path.c_str());
  if (!tls.cert_file.path.empty()) {
    curl_easy_setopt(e, CURLOPT_SSLCERT, tls.cert_file.path.c_str());
    curl_easy_setopt(e, CURLOPT_SSLKEY, tls.key_file.path.c_str());
  }
  if (tls.insecure_skip_verify) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, &HttpRequest::OnSslContext);
  curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, this);

  const Status added = multi_.Add(e, [this](CURLcode code, CURL*) { OnHopDone(code); });
  if (!added.ok()) {
    outcome_.reason = Reason::kConnectionFailed;
    outcome_.message = added.message();
    // Never call back from inside Start: the caller is not ready for it.
    multi_.loop().Post([this, alive = std::weak_ptr<int>(alive_)] {
      if (alive.lock()) Finish();
    });
  }
}

size_t HttpRequest::OnBody(char* data, size_t, size_t count, void* self_ptr) {
  auto* self = static_cast<HttpRequest*>(self_ptr);
  self->outcome_.body_length += static_cast<int64_t>(count);
  if (self->outcome_.body_length > self->plan_->body_limit) {
    self->body_too_large_ = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  if (self->plan_->rules.needs_body()) self->body_.append(data, count);
  return count;
}

size_t HttpRequest::OnHeader(char* data, size_t, size_t count, void* self_ptr) {
  auto* self = static_cast<HttpRequest*>(self_ptr);
  const std::string_view line(data, count);
  // Only the headers someone reads are kept: the rules', and Last-Modified for its metric.
  if (self->plan_->rules.needs_headers() || line.starts_with("HTTP/") ||
      (line.size() > 14 && strncasecmp(line.data(), "Last-Modified:", 14) == 0)) {
    AppendHeaderLine(line, self->response_headers_);
  }
  return count;
}

CURLcode HttpRequest::OnSslContext(CURL*, void* ssl_ctx, void* self) {
  SSL_CTX_set_cert_verify_callback(static_cast<SSL_CTX*>(ssl_ctx), &HttpRequest::OnVerify, self);
  return CURLE_OK;
}

int HttpRequest::OnVerify(X509_STORE_CTX* store, void* self_ptr) {
  auto* self = static_cast<HttpRequest*>(self_ptr);
  HttpOutcome& outcome = self->outcome_;
  outcome.earliest_cert_expiry.reset();
  outcome.verified_chain_expiry.reset();
  auto earliest = [](std::optional<double>& into, const X509* cert) {
    const auto expiry = net::NotAfterUnix(cert);
    if (expiry && (!into || *expiry < *into)) into = expiry;
  };
  // What the server sent: the leaf and the chain it offered, trusted or not.
  X509* leaf = X509_STORE_CTX_get0_cert(store);
  earliest(outcome.earliest_cert_expiry, leaf);
  STACK_OF(X509)* sent = X509_STORE_CTX_get0_untrusted(store);
  for (int i = 0; i < sk_X509_num(sent); ++i)
    earliest(outcome.earliest_cert_expiry, sk_X509_value(sent, i));
  outcome.leaf = net::DescribeCertificate(leaf);
  const auto* ssl = static_cast<const SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl != nullptr) outcome.tls_version = net::TlsVersionName(SSL_version(ssl));

  const int verified = X509_verify_cert(store);
  self->verify_result_ = verified > 0 ? X509_V_OK : X509_STORE_CTX_get_error(store);
  if (verified > 0) {
    STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(store);
    for (int i = 0; i < sk_X509_num(chain); ++i)
      earliest(outcome.verified_chain_expiry, sk_X509_value(chain, i));
  }
  return verified;
}

void HttpRequest::AddHopTimings() {
  const curl_off_t lookup = Micros(easy_, CURLINFO_NAMELOOKUP_TIME_T);
  const curl_off_t connect = Micros(easy_, CURLINFO_CONNECT_TIME_T);
  const curl_off_t tls = Micros(easy_, CURLINFO_APPCONNECT_TIME_T);
  const curl_off_t pretransfer = Micros(easy_, CURLINFO_PRETRANSFER_TIME_T);
  const curl_off_t first_byte = Micros(easy_, CURLINFO_STARTTRANSFER_TIME_T);
  const curl_off_t total = Micros(easy_, CURLINFO_TOTAL_TIME_T);
  auto add = [this](Phase phase, curl_off_t micros) {
    outcome_.phases[static_cast<size_t>(phase)] += static_cast<double>(micros) / 1e6;
  };
  add(Phase::kResolve, lookup);
  if (connect > 0) add(Phase::kConnect, connect - lookup);
  if (tls > 0) add(Phase::kTls, tls - connect);
  if (first_byte > 0) {
    add(Phase::kProcessing, first_byte - pretransfer);
    add(Phase::kTransfer, total - first_byte);
  }
  outcome_.duration += std::chrono::microseconds(total);
}

void HttpRequest::OnHopDone(CURLcode code) {
  AddHopTimings();
  long status = 0;
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
  outcome_.status = status;
  if (code != CURLE_OK) {
    outcome_.reason = ReasonFor(code);
    outcome_.message = body_too_large_
                           ? fmt::format("the body is larger than {} bytes", plan_->body_limit)
                           : (error_[0] != '\0' ? error_ : curl_easy_strerror(code));
    Finish();
    return;
  }
  const HttpOptions& options = plan_->options;
  char* location = nullptr;
  curl_easy_getinfo(easy_, CURLINFO_REDIRECT_URL, &location);
  if (options.follow_redirects && status >= 300 && status < 400 && location != nullptr) {
    if (++outcome_.redirects > options.max_redirects) {
      outcome_.reason = Reason::kRedirectLoop;
      outcome_.message = fmt::format("stopped after {} redirects", options.max_redirects);
      Finish();
      return;
    }
    // As browsers and Go do: 301, 302 and 303 turn a POST into a GET without a body.
    if ((status == 301 || status == 302 || status == 303) && method_ != "GET" &&
        method_ != "HEAD") {
      method_ = "GET";
      send_body_ = false;
    }
    const std::string next = location;
    StartHop(next);
    return;
  }
  Finish();
}

void HttpRequest::Finish() {
  long version = 0;
  curl_easy_getinfo(easy_, CURLINFO_HTTP_VERSION, &version);
  if (outcome_.status > 0) {
    switch (version) {
      case CURL_HTTP_VERSION_1_0:
        outcome_.http_version = "HTTP/1.0";
        break;
      case CURL_HTTP_VERSION_1_1:
        outcome_.http_version = "HTTP/1.1";
        break;
      case CURL_HTTP_VERSION_2_0:
        outcome_.http_version = "HTTP/2.0";
        break;
      case CURL_HTTP_VERSION_3:
        outcome_.http_version = "HTTP/3.0";
        break;
      default:
        break;
    }
    char* scheme = nullptr;
    curl_easy_getinfo(easy_, CURLINFO_SCHEME, &scheme);
    outcome_.ssl = scheme != nullptr && strcasecmp(scheme, "https") == 0;
    curl_off_t length = -1;
    curl_easy_getinfo(easy_, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    outcome_.content_length = static_cast<double>(length);
    outcome_.last_modified_unix = LastModified(response_headers_);
  }
  if (outcome_.reason == Reason::kNone) {
    const Verdict verdict = plan_->rules.Evaluate(
        {outcome_.status, outcome_.http_version, outcome_.ssl, &response_headers_, body_});
    outcome_.reason = verdict.reason;
    outcome_.message = verdict.message;
    outcome_.failed_due_to_regex = verdict.failed_due_to_regex;
  }
  if (outcome_.reason == Reason::kNone) {
    outcome_.message = fmt::format("{} {}", outcome_.http_version, outcome_.status);
  }
  body_.clear();
  CallOnce(done_, std::move(outcome_));
}

Reason HttpRequest::ReasonFor(CURLcode code) const {
  long os_errno = 0;
  curl_easy_getinfo(easy_, CURLINFO_OS_ERRNO, &os_errno);
  if (code == CURLE_PEER_FAILED_VERIFICATION) {
    // A chain OpenSSL accepted fails only on curl's own host name check.
    return verify_result_ == X509_V_OK ? Reason::kTlsHostnameMismatch
                                       : net::VerifyReason(verify_result_);
  }
  if (code == CURLE_WRITE_ERROR && body_too_large_) return Reason::kBodyTooLarge;
  return net::ReasonFromCurl(code, os_errno);
}

}  // namespace sre::exporters::http_probe
