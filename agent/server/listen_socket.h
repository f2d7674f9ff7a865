#pragma once

#include <sys/socket.h>

#include <string>

#include "agent/base/status.h"

namespace sre::server {

/// A listen address parsed into a socket address.
struct ListenAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

/// ":PORT" (every IPv4 interface), "IPV4:PORT", "localhost:PORT", "[IPV6]:PORT"; errors read
/// `listen address "x": why`.
Result<ListenAddress> ParseListenAddress(const std::string& text);

/// "1.2.3.4:80" or "[::1]:80"; "" for another family or nullptr.
std::string FormatSocketAddress(const sockaddr* address);

/// A bound, listening, non-blocking socket and the address it got.
struct ListenSocket {
  int fd = -1;
  std::string bound_address;
};

/// Binds and listens on `address` (`text` names it in errors: "listen 127.0.0.1:9101: bind:
/// Address already in use").
Result<ListenSocket> OpenListenSocket(const std::string& text, const ListenAddress& address);

}  // namespace sre::server
