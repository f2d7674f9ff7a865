#include "exporters/php_fpm/fastcgi_client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <optional>
#include <thread>

#include "tests/support/loopback_servers.h"
#include "tests/support/test_pki.h"

namespace sre::exporters::php_fpm {
namespace {

using testing::LoopbackServer;

const Params kStatusParams = {{"SCRIPT_NAME", "/status"},
                              {"SCRIPT_FILENAME", "/status"},
                              {"REQUEST_METHOD", "GET"},
                              {"QUERY_STRING", "json"}};

// Reads a FastCGI request up to its empty FCGI_STDIN record; false when the client went away.
bool ReadRequest(int fd, LoopbackServer& server) {
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

std::string Response(std::string_view cgi_output) {
  std::string out;
  AppendRecord(out, RecordType::kStdout, 1, cgi_output);
  const char end[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // app status 0, FCGI_REQUEST_COMPLETE
  AppendRecord(out, RecordType::kEndRequest, 1, std::string_view(end, 8));
  return out;
}

// A php-fpm stand-in: reads the request, then sends `bytes` and closes.
LoopbackServer::Handler Answer(std::string bytes) {
  return [bytes = std::move(bytes)](int fd, LoopbackServer& server) {
    if (ReadRequest(fd, server)) LoopbackServer::WriteAll(fd, bytes);
  };
}

class FastCgiClientTest : public ::testing::Test {
 protected:
  FastCgiResult Run(const FastCgiEndpoint& endpoint,
                    std::chrono::milliseconds timeout = std::chrono::seconds(3),
                    ResponseLimits limits = {}) {
    std::optional<FastCgiResult> result;
    auto client = FastCgiClient::Start(loop_, endpoint, kStatusParams, clock_.Now() + timeout,
                                       limits, [&](FastCgiResult r) { result = std::move(r); });
    EXPECT_FALSE(result) << "done ran inside Start";
    EXPECT_TRUE(testing::RunUntil(loop_, [&] { return result.has_value(); }));
    return result.value_or(FastCgiResult{});
  }

  static FastCgiEndpoint Tcp(uint16_t port) {
    return {"", *net::IpAddress::Parse("127.0.0.1"), port};
  }

  SystemClock clock_;
  net::EventLoop loop_{clock_};
};

TEST_F(FastCgiClientTest, ReadsTheStatusOverTcp) {
  LoopbackServer server(
      Answer(Response("Content-type: application/json\r\n\r\n{\"pool\":\"www\"}")));
  const FastCgiResult result = Run(Tcp(server.port()));
  EXPECT_EQ(result.reason, Reason::kNone) << result.message;
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.body, "{\"pool\":\"www\"}");
}

TEST_F(FastCgiClientTest, ReportsTheCgiStatusOfABusyPool) {
  LoopbackServer server(Answer(Response("Status: 503 Service Unavailable\r\n\r\nbusy")));
  const FastCgiResult result = Run(Tcp(server.port()));
  EXPECT_EQ(result.reason, Reason::kNone) << result.message;
  EXPECT_EQ(result.status, 503);
}

TEST_F(FastCgiClientTest, ReadsTheStatusOverAUnixSocket) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/fpm.sock";
  testing::UniqueFd listener(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(listener.get(), 4), 0);
  std::thread server([&listener] {
    testing::UniqueFd client(accept(listener.get(), nullptr, nullptr));
    char buffer[4096];
    std::string request;
    while (request.find(std::string("\x01\x05\x00\x01\x00\x00", 6)) == std::string::npos) {
      const ssize_t n = recv(client.get(), buffer, sizeof buffer, 0);
      if (n <= 0) return;
      request.append(buffer, static_cast<size_t>(n));
    }
    LoopbackServer::WriteAll(client.get(), Response("\r\npong"));
  });
  const FastCgiResult result = Run({path, {}, 0});
  server.join();
  EXPECT_EQ(result.reason, Reason::kNone) << result.message;
  EXPECT_EQ(result.body, "pong");
}

TEST_F(FastCgiClientTest, FaultsGiveTheirReasons) {
  testing::TempDir dir;
  EXPECT_EQ(Run({dir.path() + "/missing.sock", {}, 0}).reason, Reason::kNotPresent);
  EXPECT_EQ(Run(Tcp(testing::RefusedPort())).reason, Reason::kConnectionRefused);

  LoopbackServer truncated(Answer(Response("\r\n{}").substr(0, 12)));
  const FastCgiResult cut = Run(Tcp(truncated.port()));
  EXPECT_EQ(cut.reason, Reason::kProtocolError);
  EXPECT_NE(cut.message.find("truncated"), std::string::npos) << cut.message;

  LoopbackServer garbage(Answer("HTTP/1.1 200 OK\r\n\r\n"));
  EXPECT_EQ(Run(Tcp(garbage.port())).reason, Reason::kProtocolError);

  LoopbackServer silent(testing::handlers::Silent());
  const FastCgiResult hung = Run(Tcp(silent.port()), std::chrono::milliseconds(200));
  EXPECT_EQ(hung.reason, Reason::kTimeout);
  EXPECT_NE(hung.message.find("waiting for the answer"), std::string::npos) << hung.message;
}

TEST_F(FastCgiClientTest, AnEndlessAnswerStopsAtTheLimit) {
  LoopbackServer endless([](int fd, LoopbackServer& server) {
    if (!ReadRequest(fd, server)) return;
    std::string record;
    AppendRecord(record, RecordType::kStdout, 1, std::string(60000, 'x'));
    while (LoopbackServer::WriteAll(fd, record)) {
    }
  });
  const FastCgiResult result =
      Run(Tcp(endless.port()), std::chrono::seconds(3), ResponseLimits{1 << 20, 4096});
  EXPECT_EQ(result.reason, Reason::kBodyTooLarge) << result.message;
}

}  // namespace
}  // namespace sre::exporters::php_fpm
