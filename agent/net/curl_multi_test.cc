#include "agent/net/curl_multi.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/loopback_servers.h"

namespace sre::net {
namespace {

using testing::LoopbackServer;

// Reads the request head, then answers with a small HTTP/1.1 response and closes.
LoopbackServer::Handler Respond(std::string body) {
  return [body](int fd, LoopbackServer& server) {
    std::string line;
    while (server.ReadLine(fd, &line) && !line.empty()) {
    }
    LoopbackServer::WriteAll(fd,
                             "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                                 "\r\nConnection: close\r\n\r\n" + body);
  };
}

size_t Append(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

struct Transfer {
  explicit Transfer(const std::string& url, long timeout_ms = 2000) : easy(curl_easy_init()) {
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Append);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  }
  ~Transfer() { curl_easy_cleanup(easy); }
  CURL* easy;
  std::string body;
  bool done = false;
  CURLcode result = CURLE_OK;
};

class CurlMultiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto multi = CurlMulti::Create(loop_);
    ASSERT_TRUE(multi.ok());
    multi_ = std::move(multi).value();
  }
  void Start(Transfer& t) {
    ASSERT_TRUE(multi_
                    ->Add(t.easy,
                          [&t](CURLcode result, CURL*) {
                            t.done = true;
                            t.result = result;
                          })
                    .ok());
  }

  SystemClock clock_;
  EventLoop loop_{clock_};
  std::unique_ptr<CurlMulti> multi_;
};

TEST_F(CurlMultiTest, ManyTransfersShareTheLoop) {
  LoopbackServer server(Respond("hello"));
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  std::vector<std::unique_ptr<Transfer>> transfers;
  for (int i = 0; i < 20; ++i) {
    transfers.push_back(std::make_unique<Transfer>(url));
    Start(*transfers.back());
  }
  ASSERT_TRUE(testing::RunUntil(loop_, [&] { return multi_->running() == 0; }));
  for (const auto& t : transfers) {
    EXPECT_TRUE(t->done);
    EXPECT_EQ(t->result, CURLE_OK) << curl_easy_strerror(t->result);
    EXPECT_EQ(t->body, "hello");
  }
}

TEST_F(CurlMultiTest, HangingServerTimesOutWithoutDelayingOthers) {
  testing::HangingListener hanging;
  LoopbackServer server(Respond("ok"));
  Transfer slow("http://127.0.0.1:" + std::to_string(hanging.port()) + "/", 300);
  Transfer fast("http://127.0.0.1:" + std::to_string(server.port()) + "/");
  Start(slow);
  Start(fast);
  ASSERT_TRUE(testing::RunUntil(loop_, [&] { return fast.done; }));
  EXPECT_FALSE(slow.done);  // the hung transfer is still pending while the healthy one finished
  EXPECT_EQ(fast.body, "ok");
  ASSERT_TRUE(testing::RunUntil(loop_, [&] { return slow.done; }));
  EXPECT_EQ(slow.result, CURLE_OPERATION_TIMEDOUT);
}

TEST_F(CurlMultiTest, RemoveCancelsWithoutCallingDone) {
  testing::HangingListener hanging;
  Transfer t("http://127.0.0.1:" + std::to_string(hanging.port()) + "/");
  Start(t);
  loop_.RunOnce(std::chrono::milliseconds(10));
  multi_->Remove(t.easy);
  EXPECT_EQ(multi_->running(), 0u);
  loop_.RunOnce(std::chrono::milliseconds(10));
  EXPECT_FALSE(t.done);
}

TEST_F(CurlMultiTest, DestroyingWithTransfersInFlightIsClean) {
  testing::HangingListener hanging;
  Transfer t("http://127.0.0.1:" + std::to_string(hanging.port()) + "/");
  Start(t);
  loop_.RunOnce(std::chrono::milliseconds(10));
  multi_.reset();
  EXPECT_EQ(loop_.watch_count(), 0u);
  EXPECT_FALSE(t.done);
}

}  // namespace
}  // namespace sre::net
