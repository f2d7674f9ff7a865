#include "exporters/http_probe/http_cli.h"

namespace sre::exporters::http_probe {

cli::ProbeCommand HttpProbeCommand() {
  cli::ProbeCommand command;
  command.name = "http";
  command.exporter = "http_probe";
  command.arguments = "URL";
  command.summary = "fetch URL from every address of its host: status, phases, certificate";
  command.flags = {
      {"header", "NAME:VALUE", "request header", "", true},
      {"method", "METHOD", "request method (default GET)"},
      {"body", "TEXT", "request body"},
      {"host", "HOST", "Host header to send instead of the URL's host"},
      {"expect-status", "CODE", "accepted status (default: any 2xx)", "", true},
      {"expect-body", "REGEX", "the body must match this"},
      {"no-follow", "", "do not follow redirects"},
      {"tls-ca-file", "FILE", "CA bundle to verify the server (default: the system's)"},
      {"tls-server-name", "NAME", "name for SNI and verification (default: the URL's host)"},
      {"tls-insecure", "", "accept any certificate (expiry is still shown)"},
      {"dns-server", "ADDR", "DNS server as ip or ip:port (default: /etc/resolv.conf)", "", true},
      {"one-address", "", "probe the first address only"},
      {"ip6", "", "probe IPv6 addresses (the default is IPv4, IPv6 only when there is none)"},
  };
  command.build_config = [](const cli::ParsedFlags& flags) -> Result<YAML::Node> {
    if (flags.positional.size() != 1) {
      return Status::Error("http takes one URL argument, like https://example.com/health");
    }
    YAML::Node node;
    node["check"] = flags.positional[0];
    node["url"] = flags.positional[0];
    for (const std::string& header : flags.GetAll("header")) {
      const size_t colon = header.find(':');
      if (colon == std::string::npos || colon == 0) {
        return Status::Error("--header \"" + header + "\": expected NAME:VALUE");
      }
      size_t value = colon + 1;
      while (value < header.size() && header[value] == ' ') ++value;
      node["headers"][header.substr(0, colon)] = header.substr(value);
    }
    if (flags.Has("method")) node["method"] = flags.Get("method");
    if (flags.Has("body")) node["body"] = flags.Get("body");
    if (flags.Has("host")) node["host"] = flags.Get("host");
    for (const std::string& code : flags.GetAll("expect-status")) {
      node["valid_status_codes"].push_back(code);
    }
    if (flags.Has("expect-body")) {
      node["fail_if_body_not_matches_regexp"].push_back(flags.Get("expect-body"));
    }
    if (flags.Get("no-follow") == "true") node["follow_redirects"] = false;
    YAML::Node tls;
    if (flags.Has("tls-ca-file")) tls["ca_file"] = flags.Get("tls-ca-file");
    if (flags.Has("tls-server-name")) tls["server_name"] = flags.Get("tls-server-name");
    if (flags.Get("tls-insecure") == "true") tls["insecure_skip_verify"] = true;
    if (tls.size() > 0) node["tls_config"] = tls;
    for (const std::string& server : flags.GetAll("dns-server")) {
      node["dns_servers"].push_back(server);
    }
    if (flags.Get("one-address") == "true") node["per_address"] = false;
    if (flags.Get("ip6") == "true") node["preferred_ip_protocol"] = "ip6";
    return node;
  };
  return command;
}

}  // namespace sre::exporters::http_probe
