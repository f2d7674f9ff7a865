#include "exporters/tcp/tcp_cli.h"

namespace sre::exporters::tcp {

cli::ProbeCommand TcpProbeCommand() {
  cli::ProbeCommand command;
  command.name = "tcp";
  command.exporter = "tcp";
  command.arguments = "HOST:PORT";
  command.summary = "connect to every address of HOST (optionally TLS, send and expect)";
  command.flags = {
      {"tls", "", "do a TLS handshake after connecting"},
      {"tls-ca-file", "FILE", "CA bundle to verify the server (default: the system's)"},
      {"tls-server-name", "NAME", "name for SNI and verification (default: HOST)"},
      {"tls-insecure", "", "accept any certificate (expiry is still shown)"},
      {"send", "TEXT", "line to send after connecting"},
      {"expect", "REGEX", "a received line must match this (after --send, when given)"},
      {"dns-server", "ADDR", "DNS server as ip or ip:port (default: /etc/resolv.conf)", "", true},
      {"ip6", "", "probe IPv6 addresses (the default is IPv4, IPv6 only when there is none)"},
  };
  command.build_config = [](const cli::ParsedFlags& flags) -> Result<YAML::Node> {
    if (flags.positional.size() != 1) {
      return Status::Error("tcp takes one HOST:PORT argument, like db.internal:3306");
    }
    YAML::Node node;
    node["check"] = flags.positional[0];
    node["target"] = flags.positional[0];
    YAML::Node tls;
    if (flags.Has("tls-ca-file")) tls["ca_file"] = flags.Get("tls-ca-file");
    if (flags.Has("tls-server-name")) tls["server_name"] = flags.Get("tls-server-name");
    if (flags.Get("tls-insecure") == "true") tls["insecure_skip_verify"] = true;
    // Any TLS setting means TLS: --tls-ca-file alone must not quietly run a plain check.
    if (flags.Get("tls") == "true" || tls.size() > 0) node["tls"] = true;
    if (tls.size() > 0) node["tls_config"] = tls;
    // On the command line the natural order is "send this, expect that".
    if (flags.Has("send")) {
      YAML::Node step;
      step["send"] = flags.Get("send");
      node["query_response"].push_back(step);
    }
    if (flags.Has("expect")) {
      YAML::Node step;
      step["expect"] = flags.Get("expect");
      node["query_response"].push_back(step);
    }
    for (const std::string& server : flags.GetAll("dns-server")) {
      node["dns_servers"].push_back(server);
    }
    if (flags.Get("ip6") == "true") node["preferred_ip_protocol"] = "ip6";
    return node;
  };
  return command;
}

}  // namespace sre::exporters::tcp
