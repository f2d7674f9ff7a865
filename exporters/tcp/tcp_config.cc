#include "exporters/tcp/tcp_config.h"

#include "agent/net/ip_address.h"
#include "agent/net/tcp_dialer.h"

namespace sre::exporters::tcp {
namespace {

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
    s->Validate(&TcpConfig::preferred_ip_protocol, std::function(CheckIpProtocol));
    s->Field("dns_servers", &TcpConfig::dns_servers,
             "DNS servers as ip or ip:port; default: /etc/resolv.conf");
    s->Validate(&TcpConfig::dns_servers, std::function(CheckDnsServers));
    s->Field("tls", &TcpConfig::tls, "do a TLS handshake after connecting");
    s->Nested("tls_config", &TcpConfig::tls_config, TlsConfigSchema(), "TLS settings");
    s->List("query_response", &TcpConfig::query_response, QueryStepSchema(),
            "line-based steps after connecting: expect a line, then send one");
    s->Check([](const TcpConfig& c) -> std::optional<std::string> {
      if (!c.tls && c.tls_config.configured())
        return "tls_config is set but tls is false: add `tls: true`";
      return std::nullopt;
    });
    return s;
  }();
  return *schema;
}

}  // namespace sre::exporters::tcp
