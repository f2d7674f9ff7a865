#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
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
  /// The address in network byte order: 4 bytes for IPv4, 16 for IPv6.
  std::span<const uint8_t> Bytes() const {
    return {bytes_.data(), family_ == IpFamily::kIp4 ? size_t{4} : size_t{16}};
  }
  /// A sockaddr for `port`, ready for connect(); returns its length.
  socklen_t ToSockaddr(uint16_t port, sockaddr_storage* out) const;

  bool operator==(const IpAddress& other) const = default;

 private:
  IpFamily family_ = IpFamily::kIp4;
  // Network byte order; IPv4 uses the first 4 bytes. A byte array, not in6_addr, so that the
  // defaulted operator== exists (in6_addr has no operator==, which made it deleted).
  std::array<uint8_t, 16> bytes_{};
};

/// blackbox_exporter's probe_ip_addr_hash: FNV-1a (32 bits) of the address bytes in network
/// order, 4 for IPv4 and 16 for IPv6 (127.0.0.1 -> 3668918509).
uint32_t AddressHash(const IpAddress& address);

/// Splits "host:port" or "[v6]:port". nullopt when the port is missing or not 1..65535.
struct HostPort {
  std::string host;
  uint16_t port = 0;
  static std::optional<HostPort> Parse(std::string_view text);
};

}  // namespace sre::net
