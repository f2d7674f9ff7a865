#pragma once

// Test-only: the monitor_agent responses in testdata/ and HTTP answers around them for
// LoopbackServer, so tests can send what Fluentd sends and what it never should.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/loopback_servers.h"
#include "tests/support/source_files.h"

namespace sre::exporters::fluentd::fake {

/// A file of exporters/fluentd/testdata/ (found through SRE_SOURCE_DIR, which ctest sets).
inline std::string Testdata(const std::string& name) {
  return testing::ReadSourceFile("exporters/fluentd/testdata/" + name);
}

/// An HTTP/1.1 response as monitor_agent's WEBrick sends it.
inline std::string HttpResponse(const std::string& body, const std::string& status = "200 OK",
                                const std::string& content_type = "application/json") {
  return "HTTP/1.1 " + status + "\r\nContent-Type: " + content_type +
         "\r\nServer: WEBrick/1.8.1 (Ruby/3.2.2/2023-03-30)\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

/// `count` servers on consecutive ports of 127.0.0.1, as monitor_agent listens with `workers`:
/// each answers with its own response. Ports are probed with plain sockets first; a range
/// taken meanwhile is skipped.
inline std::vector<std::unique_ptr<testing::LoopbackServer>> ServersOnConsecutivePorts(
    const std::vector<std::string>& responses) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    uint16_t base = 0;
    testing::UniqueFd first = testing::ListenLoopback(8, &base);
    std::vector<testing::UniqueFd> held;
    held.push_back(std::move(first));
    bool free = base + responses.size() <= 65535;
    for (size_t i = 1; free && i < responses.size(); ++i) {
      testing::UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_port = htons(static_cast<uint16_t>(base + i));
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      free = bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
      held.push_back(std::move(fd));
    }
    if (!free) continue;
    held.clear();  // the servers bind them again (with SO_REUSEADDR)
    std::vector<std::unique_ptr<testing::LoopbackServer>> servers;
    for (size_t i = 0; i < responses.size(); ++i) {
      servers.push_back(
          std::make_unique<testing::LoopbackServer>(testing::handlers::HttpReply(responses[i]),
                                                    "127.0.0.1", static_cast<uint16_t>(base + i)));
    }
    return servers;
  }
  ADD_FAILURE() << "no range of " << responses.size() << " free ports";
  return {};
}

}  // namespace sre::exporters::fluentd::fake
