#include "exporters/tcp/tcp_config.h"

#include <re2/re2.h>

#include "agent/net/ip_address.h"
#include "agent/net/tcp_dialer.h"

namespace sre::exporters::tcp {
namespace {

std::optional<std::string> CheckRegex(const std::string& pattern) {
  if (pattern.empty()) return std::nullopt;
  const re2::RE2 compiled(pattern, re2::RE2::Quiet);
  if (compiled.ok()) return std::nullopt;
  return "invalid regular expression \"" + pattern + "\": " + compiled.error();
}

const config::Schema<TlsConfig>& TlsSchema() {
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

const config::Schema<QueryStepConfig>& QueryStepSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<QueryStepConfig>("query step");
    s->Field("expect", &QueryStepConfig::expect, "regex a received line must match");
    s->Validate(&QueryStepConfig::expect, std::function(CheckRegex));
    s->Field("send", &QueryStepConfig::send, "line to send after the expect matched");
    s->Check([](const QueryStepConfig& q) -> std::optional<std::string> {
      if (q.expect.empty() && q.send.empty()) return "a step needs expect, send or both";
      return std::nullopt;
    });
    return s;
  }();
  return *schema;
}

}  // namespace

net::TlsOptions ToTlsOptions(const TlsConfig& config) {
  return {config.ca_file.path, config.cert_file.path, config.key_file.path, config.server_name,
          config.insecure_skip_verify};
}

const config::Schema<TcpConfig>& TcpSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<TcpConfig>("tcp check");
    s->Embed(&TcpConfig::settings, CheckSettingsSchema());
    s->Field("target", &TcpConfig::target, "host:port to connect to (\"[::1]:5432\" for IPv6)")
        .Required();
    s->Validate<std::string>(
        &TcpConfig::target, [](const std::string& t) -> std::optional<std::string> {
          if (net::HostPort::Parse(t)) return std::nullopt;
          return "invalid target \"" + t + "\": expected host:port, like db.internal:3306";
        });
    s->Field("preferred_ip_protocol", &TcpConfig::preferred_ip_protocol,
             "ip4 or ip6: the family probed; the other only when the name has none");
    s->Validate<std::string>(&TcpConfig::preferred_ip_protocol,
                             [](const std::string& p) -> std::optional<std::string> {
                               if (p == "ip4" || p == "ip6") return std::nullopt;
                               return "expected ip4 or ip6, got \"" + p + "\"";
                             });
    s->Field("dns_servers", &TcpConfig::dns_servers,
             "DNS servers as ip or ip:port; default: /etc/resolv.conf");
    s->Validate<std::vector<std::string>>(
        &TcpConfig::dns_servers, [](const auto& servers) -> std::optional<std::string> {
          for (const std::string& server : servers) {
            if (net::IpAddress::Parse(server)) continue;
            auto host_port = net::HostPort::Parse(server);
            if (host_port && net::IpAddress::Parse(host_port->host)) continue;
            return "invalid DNS server \"" + server + "\": expected an IP address with an " +
                   "optional port, like 10.0.0.2 or 127.0.0.1:5353";
          }
          return std::nullopt;
        });
    s->Field("tls", &TcpConfig::tls, "do a TLS handshake after connecting");
    s->Nested("tls_config", &TcpConfig::tls_config, TlsSchema(), "TLS settings");
    s->List("query_response", &TcpConfig::query_response, QueryStepSchema(),
            "line-based steps after connecting: expect a line, then send one");
    s->Check([](const TcpConfig& c) -> std::optional<std::string> {
      const TlsConfig& t = c.tls_config;
      const bool tls_configured = !t.ca_file.path.empty() || !t.cert_file.path.empty() ||
                                  !t.server_name.empty() || t.insecure_skip_verify;
      if (!c.tls && tls_configured) return "tls_config is set but tls is false: add `tls: true`";
      return std::nullopt;
    });
    return s;
  }();
  return *schema;
}

}  // namespace sre::exporters::tcp
