#include "exporters/http_probe/http_config.h"

#include <curl/curl.h>

#include <cctype>
#include <cstdlib>
#include <memory>

namespace sre::exporters::http_probe {
namespace {

const config::Schema<BasicAuth>& BasicAuthSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<BasicAuth>("basic_auth");
    s->Field("username", &BasicAuth::username, "user name").Required();
    s->Secret("password", &BasicAuth::password, "password");
    return s;
  }();
  return *schema;
}

const config::Schema<HeaderRule>& HeaderRuleSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<HeaderRule>("header rule");
    s->Field("header", &HeaderRule::header, "header name, any case").Required();
    s->Field("regexp", &HeaderRule::regexp, "regular expression (RE2) on the header's value")
        .Required();
    s->Validate(&HeaderRule::regexp, std::function(CheckRegex));
    s->Field("allow_missing", &HeaderRule::allow_missing, "a missing header passes the rule");
    return s;
  }();
  return *schema;
}

std::optional<std::string> CheckUrl(const std::string& text) {
  const std::string url = NormalizeUrl(text);
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> parsed(curl_url(), &curl_url_cleanup);
  if (curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return "invalid URL \"" + text + "\": expected http(s)://host[:port]/path";
  }
  char* scheme = nullptr;
  curl_url_get(parsed.get(), CURLUPART_SCHEME, &scheme, 0);
  const std::string scheme_text = scheme != nullptr ? scheme : "";
  curl_free(scheme);
  if (scheme_text != "http" && scheme_text != "https") {
    return "invalid URL \"" + text + "\": the scheme must be http or https";
  }
  return std::nullopt;
}

}  // namespace

std::string NormalizeUrl(const std::string& url) {
  if (url.find("://") != std::string::npos) return url;
  return "http://" + url;
}

std::optional<int64_t> ParseByteSize(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
    ++digits;
  }
  if (digits == 0 || digits > 12) return std::nullopt;
  const int64_t number = std::strtoll(text.substr(0, digits).c_str(), nullptr, 10);
  std::string unit = text.substr(digits);
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.ends_with("IB")) unit.erase(unit.size() - 2, 1);  // "KIB" -> "KB": both base 2
  static const std::pair<const char*, int> kUnits[] = {
      {"", 0}, {"B", 0}, {"KB", 10}, {"K", 10}, {"MB", 20}, {"M", 20}, {"GB", 30}, {"G", 30}};
  for (const auto& [name, shift] : kUnits) {
    if (unit == name) return number << shift;
  }
  return std::nullopt;
}

const config::Schema<HttpOptions>& HttpOptionsSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<HttpOptions>("http");
    s->Field("valid_status_codes", &HttpOptions::valid_status_codes,
             "accepted status codes; default: any 2xx");
    s->Validate<std::vector<int64_t>>(
        &HttpOptions::valid_status_codes, [](const auto& codes) -> std::optional<std::string> {
          for (int64_t code : codes) {
            if (code < 100 || code > 599) {
              return "invalid status code " + std::to_string(code) + ": expected 100 to 599";
            }
          }
          return std::nullopt;
        });
    s->Field("valid_http_versions", &HttpOptions::valid_http_versions,
             "accepted versions (\"HTTP/1.1\", \"HTTP/2.0\"); default: any");
    s->Validate<std::vector<std::string>>(
        &HttpOptions::valid_http_versions, [](const auto& versions) -> std::optional<std::string> {
          for (const std::string& v : versions) {
            if (v != "HTTP/1.0" && v != "HTTP/1.1" && v != "HTTP/2" && v != "HTTP/2.0" &&
                v != "HTTP/3" && v != "HTTP/3.0") {
              return "invalid HTTP version \"" + v + "\": expected HTTP/1.0, HTTP/1.1 or HTTP/2.0";
            }
          }
          return std::nullopt;
        });
    s->Field("method", &HttpOptions::method, "request method");
    s->Validate<std::string>(&HttpOptions::method, [](const std::string& m) {
      const bool token = !m.empty() && std::all_of(m.begin(), m.end(), [](char c) {
        return std::isupper(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      });
      return token ? std::nullopt
                   : std::optional<std::string>("invalid method \"" + m +
                                                "\": expected GET, POST, ...");
    });
    s->Field("headers", &HttpOptions::headers, "request headers");
    s->Field("body", &HttpOptions::body, "request body");
    s->Nested("basic_auth", &HttpOptions::basic_auth, BasicAuthSchema(), "HTTP basic auth");
    s->Secret("bearer_token", &HttpOptions::bearer_token, "sent as `Authorization: Bearer ...`");
    s->Field("follow_redirects", &HttpOptions::follow_redirects, "follow 3xx responses");
    s->Field("max_redirects", &HttpOptions::max_redirects,
             "more redirects than this fail the probe (redirect_loop)");
    s->Field("fail_if_ssl", &HttpOptions::fail_if_ssl, "fail when the final response used TLS");
    s->Field("fail_if_not_ssl", &HttpOptions::fail_if_not_ssl,
             "fail when the final response did not use TLS");
    s->Field("fail_if_body_matches_regexp", &HttpOptions::fail_if_body_matches_regexp,
             "fail when the body matches any of these (RE2)");
    s->Validate(&HttpOptions::fail_if_body_matches_regexp, std::function(CheckRegexList));
    s->Field("fail_if_body_not_matches_regexp", &HttpOptions::fail_if_body_not_matches_regexp,
             "fail unless the body matches every one of these (RE2)");
    s->Validate(&HttpOptions::fail_if_body_not_matches_regexp, std::function(CheckRegexList));
    s->List("fail_if_header_matches", &HttpOptions::fail_if_header_matches, HeaderRuleSchema(),
            "fail when a header matches");
    s->List("fail_if_header_not_matches", &HttpOptions::fail_if_header_not_matches,
            HeaderRuleSchema(), "fail when a header is missing or does not match");
    s->Nested("tls_config", &HttpOptions::tls_config, TlsConfigSchema(), "TLS settings");
    s->Field("preferred_ip_protocol", &HttpOptions::preferred_ip_protocol,
             "ip4 or ip6: the family probed");
    s->Validate(&HttpOptions::preferred_ip_protocol, std::function(CheckIpProtocol));
    s->Field("ip_protocol_fallback", &HttpOptions::ip_protocol_fallback,
             "probe the other family when the name has no address of the preferred one");
    s->Field("body_size_limit", &HttpOptions::body_size_limit,
             "read at most this much body (\"512KiB\", \"10MB\"); more fails with body_too_large; "
             "default and ceiling 16MiB");
    s->Validate<std::string>(
        &HttpOptions::body_size_limit, [](const std::string& text) -> std::optional<std::string> {
          if (text.empty() || ParseByteSize(text)) return std::nullopt;
          return "invalid size \"" + text + "\": expected bytes with an optional unit, like 10MiB";
        });
    s->Field("compression", &HttpOptions::compression,
             "ask for and decode this encoding: gzip, deflate, br, identity");
    s->Validate<std::string>(
        &HttpOptions::compression, [](const std::string& c) -> std::optional<std::string> {
          if (c.empty() || c == "gzip" || c == "deflate" || c == "br" || c == "identity") {
            return std::nullopt;
          }
          return "expected gzip, deflate, br or identity, got \"" + c + "\"";
        });
    s->Field("enable_http2", &HttpOptions::enable_http2, "offer HTTP/2 over TLS (ALPN)");
    s->Check([](const HttpOptions& o) -> std::optional<std::string> {
      if (o.fail_if_ssl && o.fail_if_not_ssl)
        return "fail_if_ssl and fail_if_not_ssl exclude each other";
      if (!o.bearer_token.empty() && !o.basic_auth.username.empty()) {
        return "basic_auth and bearer_token exclude each other";
      }
      if (o.max_redirects < 0) return "max_redirects must not be negative";
      return std::nullopt;
    });
    return s;
  }();
  return *schema;
}

const config::Schema<HttpProbeConfig>& HttpProbeSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<HttpProbeConfig>("http probe");
    s->Embed(&HttpProbeConfig::settings, CheckSettingsSchema());
    s->Field("url", &HttpProbeConfig::url, "what to fetch: http(s)://host[:port]/path").Required();
    s->Validate(&HttpProbeConfig::url, std::function(CheckUrl));
    s->Field("host", &HttpProbeConfig::host, "Host header to send instead of the URL's host");
    s->Field("per_address", &HttpProbeConfig::per_address,
             "probe every address the host resolves to (label `address`); false: the first only");
    s->Field("min_failures", &HttpProbeConfig::min_failures,
             "consecutive failing runs that open an SLA violation");
    s->Validate<int64_t>(&HttpProbeConfig::min_failures,
                         [](int64_t n) -> std::optional<std::string> {
                           if (n >= 1) return std::nullopt;
                           return "min_failures must be at least 1";
                         });
    s->Field("dns_servers", &HttpProbeConfig::dns_servers,
             "DNS servers as ip or ip:port; default: /etc/resolv.conf");
    s->Validate(&HttpProbeConfig::dns_servers, std::function(CheckDnsServers));
    s->Embed(&HttpProbeConfig::http, HttpOptionsSchema());
    return s;
  }();
  return *schema;
}

}  // namespace sre::exporters::http_probe
