#pragma once

// Test-only: what php-fpm sent (the captured pages in testdata/) and a php-fpm stand-in for
// LoopbackServer that reads a FastCGI request and answers with given records, so tests can send
// what real php-fpm sends and what it never should.

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>
#include <string_view>

#include "exporters/php_fpm/fastcgi.h"
#include "tests/support/loopback_servers.h"
#include "tests/support/source_files.h"

namespace sre::exporters::php_fpm::fake {

using testing::LoopbackServer;

/// A file of exporters/php_fpm/testdata/ (found through SRE_SOURCE_DIR, which ctest sets).
inline std::string Testdata(const std::string& name) {
  return testing::ReadSourceFile("exporters/php_fpm/testdata/" + name);
}

/// Reads a FastCGI request up to its empty FCGI_STDIN record; false when the client went away.
inline bool ReadRequest(int fd, LoopbackServer& server) {
  std::string bytes;
  size_t pos = 0;
  for (;;) {
    while (bytes.size() >= pos + kRecordHeaderBytes) {
      const auto* header = reinterpret_cast<const unsigned char*>(bytes.data() + pos);
      const size_t content = header[4] << 8 | header[5];
      if (header[1] == static_cast<unsigned char>(RecordType::kStdin) && content == 0) return true;
      pos += kRecordHeaderBytes + content + header[6];
    }
    if (!server.WaitReadable(fd)) return false;
    char buffer[4096];
    const ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n <= 0) return false;
    bytes.append(buffer, static_cast<size_t>(n));
  }
}

/// What php-fpm sends for a CGI output: one FCGI_STDOUT record, then FCGI_END_REQUEST.
inline std::string Response(std::string_view cgi_output) {
  std::string out;
  AppendRecord(out, RecordType::kStdout, 1, cgi_output);
  const char end[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // app status 0, FCGI_REQUEST_COMPLETE
  AppendRecord(out, RecordType::kEndRequest, 1, std::string_view(end, 8));
  return out;
}

/// A JSON status page as php-fpm 8.2 frames it.
inline std::string StatusResponse(std::string_view json) {
  return Response("Content-type: application/json\r\n\r\n" + std::string(json));
}

/// Reads the request, then sends `bytes` and closes.
inline LoopbackServer::Handler Answer(std::string bytes) {
  return [bytes = std::move(bytes)](int fd, LoopbackServer& server) {
    if (ReadRequest(fd, server)) LoopbackServer::WriteAll(fd, bytes);
  };
}

}  // namespace sre::exporters::php_fpm::fake
