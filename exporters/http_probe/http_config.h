#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/config/schema.h"
#include "agent/core/check_settings.h"
#include "exporters/common/probe_config.h"

namespace sre::exporters::http_probe {

struct BasicAuth {
  std::string username;
  std::string password;
};

/// One header rule, as blackbox_exporter's `fail_if_header_(not_)matches`.
struct HeaderRule {
  std::string header;
  std::string regexp;
  bool allow_missing = false;
};

/// What a request sends and what its response must look like: blackbox_exporter's `http:` module
/// block, so its modules carry over to `/probe` and to scheduled probes unchanged.
struct HttpOptions {
  std::vector<int64_t> valid_status_codes;  ///< empty: any 2xx
  std::vector<std::string> valid_http_versions;
  std::string method = "GET";
  std::map<std::string, std::string> headers;
  std::string body;
  BasicAuth basic_auth;
  std::string bearer_token;
  bool follow_redirects = true;
  int64_t max_redirects = 10;
  bool fail_if_ssl = false;
  bool fail_if_not_ssl = false;
  std::vector<std::string> fail_if_body_matches_regexp;
  std::vector<std::string> fail_if_body_not_matches_regexp;
  std::vector<HeaderRule> fail_if_header_matches;
  std::vector<HeaderRule> fail_if_header_not_matches;
  TlsConfig tls_config;
  std::string preferred_ip_protocol = "ip4";
  bool ip_protocol_fallback = true;
  std::string body_size_limit;  ///< "10MiB"; RequestPlan turns it into bytes
  std::string compression;      ///< Accept-Encoding asked for and decoded: "gzip", "br", ...
  bool enable_http2 = true;
};

/// One scheduled HTTP probe.
struct HttpProbeConfig {
  CheckSettings settings;
  std::string url;
  std::string host;  ///< Host header override
  bool per_address = true;
  int64_t min_failures = 1;
  std::vector<std::string> dns_servers;
  HttpOptions http;
};

/// The default and the ceiling of body_size_limit: a probe reads no more than this.
inline constexpr int64_t kDefaultBodyLimit = 16 << 20;

const config::Schema<HttpOptions>& HttpOptionsSchema();
const config::Schema<HttpProbeConfig>& HttpProbeSchema();

/// "http://" added when the URL has no scheme, as blackbox_exporter does for targets.
std::string NormalizeUrl(const std::string& url);

/// "1024", "512KiB", "10MB" (base 2, like blackbox_exporter's units) as bytes; nullopt when
/// malformed.
std::optional<int64_t> ParseByteSize(const std::string& text);

}  // namespace sre::exporters::http_probe
