#include "agent/server/listen_socket.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <string_view>
#include <system_error>

namespace sre::server {
namespace {

std::string ErrnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

Result<uint16_t> ParsePort(std::string_view text) {
  unsigned value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || text.size() > 5 || error != std::errc() || end != text.data() + text.size() ||
      value > 65535) {
    return Status::Error("port must be a number from 0 to 65535");
  }
  return static_cast<uint16_t>(value);
}

}  // namespace

/// ":PORT" (every IPv4 interface), "IPV4:PORT", "localhost:PORT", "[IPV6]:PORT".
Result<ListenAddress> ParseListenAddress(const std::string& text) {
  auto fail = [&](std::string_view why) {
    return Status::Error(fmt::format("listen address \"{}\": {}", text, why));
  };
  std::string host;
  std::string_view port_text;
  bool bracketed = false;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return fail("expected [IPv6]:port");
    }
    host = text.substr(1, close - 1);
    port_text = std::string_view(text).substr(close + 2);
    bracketed = true;
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return fail("missing port: expected host:port or :port");
    host = text.substr(0, colon);
    port_text = std::string_view(text).substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return fail("an IPv6 address needs brackets, as in [::1]:9101");
    }
  }
  Result<uint16_t> port = ParsePort(port_text);
  if (!port.ok()) return fail(port.status().message());

  ListenAddress address;
  if (bracketed) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(*port);
    if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) != 1) {
      return fail("not an IPv6 address");
    }
    address.length = sizeof(sockaddr_in6);
    return address;
  }
  auto* in4 = reinterpret_cast<sockaddr_in*>(&address.storage);
  in4->sin_family = AF_INET;
  in4->sin_port = htons(*port);
  if (host.empty()) {
    in4->sin_addr.s_addr = htonl(INADDR_ANY);
  } else if (host == "localhost") {
    in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  } else if (inet_pton(AF_INET, host.c_str(), &in4->sin_addr) != 1) {
    return fail("host must be an IP address or localhost");
  }
  address.length = sizeof(sockaddr_in);
  return address;
}

/// "1.2.3.4:80" or "[::1]:80"; "" for another family.
std::string FormatSocketAddress(const sockaddr* address) {
  char host[INET6_ADDRSTRLEN] = {};
  if (address == nullptr) return "";
  if (address->sa_family == AF_INET) {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(address);
    if (inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host)) == nullptr) return "";
    return fmt::format("{}:{}", host, ntohs(in4->sin_port));
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host)) == nullptr) return "";
    return fmt::format("[{}]:{}", host, ntohs(in6->sin6_port));
  }
  return "";
}

Result<ListenSocket> OpenListenSocket(const std::string& text, const ListenAddress& address) {
  auto fail = [&](std::string_view operation, int error) {
    return Status::Error(fmt::format("listen {}: {}: {}", text, operation, ErrnoText(error)));
  };
  int family = address.storage.ss_family;
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("socket", errno);
  auto fail_and_close = [&](std::string_view operation) {
    int error = errno;
    close(fd);
    return fail(operation, error);
  };
  int on = 1;
  // A restarted agent must not wait for the old process's connections in TIME_WAIT. (On Linux
  // this does not let two sockets listen on the same port.)
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) {
    return fail_and_close("setsockopt(SO_REUSEADDR)");
  }
  if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) {
    return fail_and_close("setsockopt(IPV6_V6ONLY)");
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0) {
    return fail_and_close("bind");
  }
  if (listen(fd, SOMAXCONN) != 0) return fail_and_close("listen");
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
    return fail_and_close("getsockname");
  }
  return ListenSocket{fd, FormatSocketAddress(reinterpret_cast<const sockaddr*>(&bound))};
}

}  // namespace sre::server
