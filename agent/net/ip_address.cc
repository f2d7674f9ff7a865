#include "agent/net/ip_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace sre::net {
namespace {

// Letters, digits, '-', '.', '_' (underscores appear in real service names, e.g. SRV-style
// labels and Docker/Kubernetes hosts, so they are accepted as getaddrinfo accepts them).
bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

std::optional<uint16_t> ParsePort(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  if (value == 0 || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

}  // namespace

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; the longest textual IPv6 address is 45 characters.
  char buffer[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buffer) return std::nullopt;
  if (text.find('\0') != std::string_view::npos) return std::nullopt;  // would cut it short
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';

  IpAddress address;
  in_addr v4{};
  if (inet_pton(AF_INET, buffer, &v4) == 1) {
    address.family_ = IpFamily::kIp4;
    std::memcpy(address.bytes_.data(), &v4, sizeof v4);
    return address;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, buffer, &v6) == 1) {
    address.family_ = IpFamily::kIp6;
    std::memcpy(address.bytes_.data(), &v6, sizeof v6);
    return address;
  }
  return std::nullopt;
}

IpAddress IpAddress::FromSockaddr(const sockaddr* addr) {
  IpAddress address;
  if (addr == nullptr) return address;
  if (addr->sa_family == AF_INET6) {
    sockaddr_in6 in6;
    std::memcpy(&in6, addr, sizeof in6);
    address.family_ = IpFamily::kIp6;
    std::memcpy(address.bytes_.data(), &in6.sin6_addr, sizeof in6.sin6_addr);
  } else if (addr->sa_family == AF_INET) {
    sockaddr_in in4;
    std::memcpy(&in4, addr, sizeof in4);
    address.family_ = IpFamily::kIp4;
    std::memcpy(address.bytes_.data(), &in4.sin_addr, sizeof in4.sin_addr);
  }
  return address;
}

std::string IpAddress::ToString() const {
  char buffer[INET6_ADDRSTRLEN];
  const int af = family_ == IpFamily::kIp4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes_.data(), buffer, sizeof buffer) == nullptr) return {};
  return buffer;
}

socklen_t IpAddress::ToSockaddr(uint16_t port, sockaddr_storage* out) const {
  std::memset(out, 0, sizeof *out);
  if (family_ == IpFamily::kIp4) {
    sockaddr_in in4{};
    in4.sin_family = AF_INET;
    in4.sin_port = htons(port);
    std::memcpy(&in4.sin_addr, bytes_.data(), sizeof in4.sin_addr);
    std::memcpy(out, &in4, sizeof in4);
    return sizeof in4;
  }
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  std::memcpy(&in6.sin6_addr, bytes_.data(), sizeof in6.sin6_addr);
  std::memcpy(out, &in6, sizeof in6);
  return sizeof in6;
}

std::optional<HostPort> HostPort::Parse(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    // "[v6]:port": the bracketed part must be an IPv6 literal.
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (rest.size() < 2 || rest.front() != ':') return std::nullopt;
    port = rest.substr(1);
    auto ip = IpAddress::Parse(host);
    if (!ip || ip->family() != IpFamily::kIp6) return std::nullopt;
  } else {
    // "host:port": exactly one colon (an unbracketed IPv6 address is ambiguous).
    const size_t colon = text.find(':');
    if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos) {
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.empty() || host.size() > 253) return std::nullopt;
    for (char c : host) {
      if (!IsHostChar(c)) return std::nullopt;
    }
    if (host.front() == '.' || host.front() == '-') return std::nullopt;
  }
  auto parsed_port = ParsePort(port);
  if (!parsed_port) return std::nullopt;
  return HostPort{std::string(host), *parsed_port};
}

uint32_t AddressHash(const IpAddress& address) {
  uint32_t hash = 2166136261u;
  for (const uint8_t byte : address.Bytes()) hash = (hash ^ byte) * 16777619u;
  return hash;
}

}  // namespace sre::net
