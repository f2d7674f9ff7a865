#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sre::net {

enum class IpFamily { kIp4, kIp6 };

/// An IPv4 or IPv6 address without a port. Value type.
class IpAddress {
 public:
  /// Parses a literal ("127.0.0.1", "::1"); nullopt when `text` is not one.
  static std::optional<IpAddress> Parse(std::string_view text);
  static IpAddress FromSockaddr(const sockaddr* addr);

  IpFamily family() const { return family_; }
  /// "127.0.0.1", "::1".
  std::string ToString() const;
  /// A sockaddr for `port`, ready for connect(); returns its length.
  socklen_t ToSockaddr(uint16_t port, sockaddr_storage* out) const;

  bool operator==(const IpAddress& other) const = default;

 private:
  IpFamily family_ = IpFamily::kIp4;
  // Network byte order; IPv4 uses the first 4 bytes. A byte array, not in6_addr, so that the
  // defaulted operator== exists (in6_addr has no operator==, which made it deleted).
  std::array<uint8_t, 16> bytes_{};
};

/// Splits "host:port" or "[v6]:port". nullopt when the port is missing or not 1..65535.
struct HostPort {
  std::string host;
  uint16_t port = 0;
  static std::optional<HostPort> Parse(std::string_view text);
};

}  // namespace sre::net
