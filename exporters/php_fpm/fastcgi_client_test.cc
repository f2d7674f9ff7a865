#include "exporters/php_fpm/fastcgi_client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <optional>
#include <thread>

#include "exporters/php_fpm/fake_php_fpm.h"
#include "tests/support/loopback_servers.h"
#include "tests/support/test_pki.h"

namespace sre::exporters::php_fpm {
namespace {

using fake::Answer;
using fake::ReadRequest;
using fake::Response;
using testing::LoopbackServer;

const Params kStatusParams = {{"SCRIPT_NAME", "/status"},
                              {"SCRIPT_FILENAME", "/status"},
                              {"REQUEST_METHOD", "GET"},
                              {"QUERY_STRING", "json"}};

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
  auto server = LoopbackServer::OnUnixSocket(Answer(Response("\r\npong")), path);
  const FastCgiResult result = Run({path, {}, 0});
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
