// Fuzzes the parsers that read addresses, durations and ${ENV} references from configs and flags.
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/config/duration.h"
#include "agent/config/source.h"
#include "agent/net/ip_address.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto host_port = sre::net::HostPort::Parse(text)) {
    if (auto ip = sre::net::IpAddress::Parse(host_port->host)) {
      sockaddr_storage storage{};
      ip->ToSockaddr(host_port->port, &storage);
      (void)ip->ToString();
    }
  }
  (void)sre::net::IpAddress::Parse(text);
  if (auto duration = sre::config::ParseDuration(text); duration.ok()) {
    (void)sre::config::FormatDuration(*duration);
  }
  const sre::config::EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "SET") return "value";
    return std::nullopt;
  };
  (void)sre::config::ExpandEnv(text, env);
  return 0;
}
