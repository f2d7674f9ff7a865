#include "exporters/common/probe_config.h"

#include <re2/re2.h>

#include "agent/net/ip_address.h"

namespace sre::exporters {

const config::Schema<TlsConfig>& TlsConfigSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<TlsConfig>("tls_config");
    s->Field("ca_file", &TlsConfig::ca_file, "CA bundle to verify the server; default: system's");
    s->Field("cert_file", &TlsConfig::cert_file, "client certificate (mTLS)");
    s->Field("key_file", &TlsConfig::key_file, "client key (mTLS)");
    s->Field("server_name", &TlsConfig::server_name,
             "name sent as SNI and verified; default: the target's host");
    s->Field("insecure_skip_verify", &TlsConfig::insecure_skip_verify,
             "accept any certificate (expiry is still reported)");
    s->Check([](const TlsConfig& c) -> std::optional<std::string> {
      if (c.cert_file.path.empty() != c.key_file.path.empty()) {
        return "cert_file and key_file go together";
      }
      return std::nullopt;
    });
    return s;
  }();
  return *schema;
}

net::TlsOptions ToTlsOptions(const TlsConfig& config) {
  return {config.ca_file.path, config.cert_file.path, config.key_file.path, config.server_name,
          config.insecure_skip_verify};
}

Result<std::shared_ptr<net::TlsClientContext>> LoadTlsContext(const TlsConfig& config,
                                                              const YAML::Node& node,
                                                              const config::ParseContext& ctx) {
  auto context = net::TlsClientContext::Create(ToTlsOptions(config));
  if (!context.ok()) {
    return ctx.ErrorAt(node["tls_config"] ? node["tls_config"] : node, context.status().message());
  }
  return context;
}

std::optional<std::string> CheckRegex(const std::string& pattern) {
  if (pattern.empty()) return std::nullopt;
  const re2::RE2 compiled(pattern, re2::RE2::Quiet);
  if (compiled.ok()) return std::nullopt;
  return "invalid regular expression \"" + pattern + "\": " + compiled.error();
}

std::optional<std::string> CheckRegexList(const std::vector<std::string>& patterns) {
  for (const std::string& pattern : patterns) {
    if (auto error = CheckRegex(pattern)) return error;
  }
  return std::nullopt;
}

std::optional<std::string> CheckIpProtocol(const std::string& protocol) {
  if (protocol == "ip4" || protocol == "ip6") return std::nullopt;
  return "expected ip4 or ip6, got \"" + protocol + "\"";
}

std::optional<std::string> CheckDnsServers(const std::vector<std::string>& servers) {
  for (const std::string& server : servers) {
    if (net::IpAddress::Parse(server)) continue;
    auto host_port = net::HostPort::Parse(server);
    if (host_port && net::IpAddress::Parse(host_port->host)) continue;
    return "invalid DNS server \"" + server + "\": expected an IP address with an " +
           "optional port, like 10.0.0.2 or 127.0.0.1:5353";
  }
  return std::nullopt;
}

}  // namespace sre::exporters
