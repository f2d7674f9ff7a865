#include "agent/server/http_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "agent/server/http_test_client.h"

namespace sre::server {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Url(const HttpServer& server, std::string_view path, size_t index = 0) {
  return "http://" + server.bound_addresses().at(index) + std::string(path);
}

HttpServerOptions Loopback() {
  HttpServerOptions options;
  options.listen_addresses = {"127.0.0.1:0"};
  return options;
}

/// A handler that reports what it saw.
HttpResponse Echo(const HttpRequest& request) {
  std::string text = "method=" + request.method + "\npath=" + request.path + "\n";
  for (const auto& [key, value] : request.query) text += "query " + key + "=" + value + "\n";
  if (const std::string* header = request.Header("x-test")) text += "x-test=" + *header + "\n";
  text += "body=" + request.body + "\n";
  return HttpResponse::Text(200, text);
}

std::unique_ptr<HttpServer> MustStart(HttpServerOptions options,
                                      std::map<std::string, HttpHandler> routes,
                                      std::map<std::string, AsyncHttpHandler> async_routes = {}) {
  Result<std::unique_ptr<HttpServer>> server =
      HttpServer::Start(std::move(options), std::move(routes), std::move(async_routes));
  EXPECT_TRUE(server.ok()) << server.status().message();
  return server.ok() ? std::move(server).value() : nullptr;
}

TEST(HttpServerTest, BindsAnEphemeralPortAndReportsIt) {
  auto server = MustStart(Loopback(), {{"/echo", Echo}});
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(server->bound_addresses().size(), 1u);
  EXPECT_THAT(server->bound_addresses()[0], StartsWith("127.0.0.1:"));
  EXPECT_NE(server->bound_addresses()[0], "127.0.0.1:0");
}

TEST(HttpServerTest, RoutesByExactPathAndPassesQueryHeadersAndRemoteAddress) {
  std::string remote;
  std::mutex mutex;
  auto server = MustStart(
      Loopback(),
      {{"/echo",
        [&](const HttpRequest& request) {
          std::lock_guard lock(mutex);
          remote = request.remote_address;
          return Echo(request);
        }},
       {"/other", [](const HttpRequest&) { return HttpResponse::Text(200, "other\n"); }}});
  ASSERT_NE(server, nullptr);
  Reply reply = Fetch(Url(*server, "/echo?a=1&b=x%20y&a=2&flag"), {.headers = {"X-Test: hello"}});
  ASSERT_EQ(reply.code, CURLE_OK) << curl_easy_strerror(reply.code);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(reply.body,
            "method=GET\npath=/echo\nquery a=1\nquery a=2\nquery b=x y\nquery flag=\n"
            "x-test=hello\nbody=\n");
  {
    std::lock_guard lock(mutex);
    EXPECT_THAT(remote, StartsWith("127.0.0.1:"));
  }
  EXPECT_EQ(Fetch(Url(*server, "/other")).body, "other\n");
}

TEST(HttpServerTest, UnknownPathIs404) {
  auto server = MustStart(Loopback(), {{"/echo", Echo}});
  ASSERT_NE(server, nullptr);
  for (const char* path : {"/", "/echo/", "/ECHO", "/nothing"}) {
    Reply reply = Fetch(Url(*server, path));
    EXPECT_EQ(reply.status, 404) << path;
    EXPECT_EQ(reply.headers["content-type"], "text/plain; charset=utf-8");
    EXPECT_EQ(reply.body, "404 page not found\n");
  }
  Reply post = Fetch(Url(*server, "/nothing"), {.method = "POST", .body = "x=1"});
  EXPECT_EQ(post.status, 404);
}

TEST(HttpServerTest, HandlerChoosesStatusContentTypeAndHeaders) {
  auto server =
      MustStart(Loopback(), {{"/-/reload", [](const HttpRequest& request) {
                                if (request.method != "POST") {
                                  HttpResponse response = HttpResponse::Text(405, "only POST\n");
                                  response.headers.emplace_back("Allow", "POST");
                                  return response;
                                }
                                HttpResponse response;
                                response.status = 202;
                                response.content_type = "application/json";
                                response.body = std::make_shared<std::string>("{\"ok\":true}");
                                response.headers.emplace_back("Cache-Control", "no-store");
                                return response;
                              }}});
  ASSERT_NE(server, nullptr);
  Reply get = Fetch(Url(*server, "/-/reload"));
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(get.headers["allow"], "POST");
  EXPECT_EQ(get.body, "only POST\n");

  Reply post = Fetch(Url(*server, "/-/reload"), {.method = "POST", .body = ""});
  EXPECT_EQ(post.status, 202);
  EXPECT_EQ(post.headers["content-type"], "application/json");
  EXPECT_EQ(post.headers["cache-control"], "no-store");
  EXPECT_EQ(post.body, "{\"ok\":true}");
}

TEST(HttpServerTest, EmptyBodyAndHead) {
  auto server = MustStart(Loopback(), {{"/empty",
                                        [](const HttpRequest&) {
                                          HttpResponse response;
                                          response.status = 204;
                                          response.content_type.clear();
                                          return response;
                                        }},
                                       {"/echo", Echo}});
  ASSERT_NE(server, nullptr);
  Reply empty = Fetch(Url(*server, "/empty"));
  EXPECT_EQ(empty.status, 204);
  EXPECT_EQ(empty.body, "");
  EXPECT_EQ(empty.headers.count("content-type"), 0u);

  Reply head = Fetch(Url(*server, "/echo"), {.method = "HEAD"});
  EXPECT_EQ(head.code, CURLE_OK);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(head.headers["content-length"],
            std::to_string(Echo({.method = "HEAD", .path = "/echo"}).body->size()));
}

TEST(HttpServerTest, ThrowingHandlerIs500AndIsLogged) {
  std::mutex mutex;
  std::vector<std::string> logged;
  HttpServerOptions options = Loopback();
  options.error_log = [&](std::string_view line) {
    std::lock_guard lock(mutex);
    logged.emplace_back(line);
  };
  auto server = MustStart(
      std::move(options),
      {{"/throws", [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); }},
       {"/throws-int", [](const HttpRequest&) -> HttpResponse { throw 42; }},
       {"/ok", Echo}});
  ASSERT_NE(server, nullptr);
  for (const char* path : {"/throws", "/throws-int"}) {
    Reply reply = Fetch(Url(*server, path));
    EXPECT_EQ(reply.status, 500) << path;
    EXPECT_EQ(reply.body, "internal error\n");
  }
  EXPECT_EQ(Fetch(Url(*server, "/ok")).status, 200);  // The server is still serving.
  std::lock_guard lock(mutex);
  EXPECT_THAT(logged, ::testing::Contains(HasSubstr("GET /throws threw: boom")));
  EXPECT_THAT(logged, ::testing::Contains(HasSubstr("/throws-int threw a non-standard")));
}

TEST(HttpServerTest, MalformedResponsesAre500) {
  auto server =
      MustStart(Loopback(),
                {{"/bad-header",
                  [](const HttpRequest&) {
                    HttpResponse response = HttpResponse::Text(200, "x");
                    response.headers.emplace_back("X-Injected", "a\r\nSet-Cookie: b=c");
                    return response;
                  }},
                 {"/bad-status", [](const HttpRequest&) { return HttpResponse::Text(42, "x"); }}});
  ASSERT_NE(server, nullptr);
  Reply header = Fetch(Url(*server, "/bad-header"));
  EXPECT_EQ(header.status, 500);
  EXPECT_EQ(header.headers.count("set-cookie"), 0u);
  EXPECT_EQ(Fetch(Url(*server, "/bad-status")).status, 500);
}

TEST(HttpServerTest, RequestBodyUpToTheLimitReachesTheHandler) {
  std::atomic<int> calls = 0;
  HttpServerOptions options = Loopback();
  options.max_request_body = 4096;
  auto server = MustStart(std::move(options), {{"/echo", [&](const HttpRequest& request) {
                                                  ++calls;
                                                  return HttpResponse::Text(
                                                      200, std::to_string(request.body.size()) +
                                                               ":" + request.body.substr(0, 3));
                                                }}});
  ASSERT_NE(server, nullptr);
  std::string exact(4096, 'a');
  exact.replace(0, 3, "abc");
  EXPECT_EQ(Fetch(Url(*server, "/echo"), {.method = "POST", .body = exact}).body, "4096:abc");
  EXPECT_EQ(Fetch(Url(*server, "/echo"), {.method = "POST", .body = exact, .chunked = true}).body,
            "4096:abc");
  EXPECT_EQ(Fetch(Url(*server, "/echo"), {.method = "PUT", .body = "xyz"}).body, "3:xyz");
  EXPECT_EQ(calls, 3);
}

TEST(HttpServerTest, RequestBodyOverTheLimitIs413) {
  std::atomic<int> calls = 0;
  HttpServerOptions options = Loopback();
  options.max_request_body = 4096;
  auto server = MustStart(std::move(options), {{"/echo", [&](const HttpRequest& request) {
                                                  ++calls;
                                                  return Echo(request);
                                                }}});
  ASSERT_NE(server, nullptr);
  std::string big(4097, 'b');
  // Declared with Content-Length: refused before the body is read.
  Reply declared = Fetch(Url(*server, "/echo"), {.method = "POST", .body = big});
  EXPECT_EQ(declared.status, 413);
  EXPECT_EQ(declared.body, "request body too large (limit 4096 bytes)\n");
  // Chunked: counted as it arrives.
  Reply chunked = Fetch(Url(*server, "/echo"),
                        {.method = "POST", .body = std::string(20000, 'c'), .chunked = true});
  EXPECT_EQ(chunked.status, 413);
  // Other methods, and a client that waits for "100 Continue" before sending the body.
  EXPECT_EQ(Fetch(Url(*server, "/echo"), {.method = "PATCH", .body = big}).status, 413);
  EXPECT_EQ(Fetch(Url(*server, "/echo"),
                  {.method = "POST", .body = big, .headers = {"Expect: 100-continue"}})
                .status,
            413);
  EXPECT_EQ(Fetch(Url(*server, "/nothing"), {.method = "PATCH", .body = big}).status, 404);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(Fetch(Url(*server, "/echo")).status, 200);
}

TEST(HttpServerTest, BodyIsSharedNotCopiedAndReleasedAfterSending) {
  auto body = std::make_shared<const std::string>(100000, 'm');
  auto server = MustStart(Loopback(), {{"/metrics", [body](const HttpRequest&) {
                                          HttpResponse response;
                                          response.body = body;
                                          return response;
                                        }}});
  ASSERT_NE(server, nullptr);
  Reply reply = Fetch(Url(*server, "/metrics"));
  EXPECT_EQ(reply.body, *body);
  // The test and the route hold a reference each; the response's own reference goes once
  // libmicrohttpd is done with it (shortly after the client has the bytes).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (body.use_count() > 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(body.use_count(), 2);
}

TEST(HttpServerTest, ServesSeveralListenAddressesAtOnce) {
  HttpServerOptions options;
  options.listen_addresses = {"127.0.0.1:0", "localhost:0"};
  auto server = MustStart(std::move(options), {{"/echo", Echo}});
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(server->bound_addresses().size(), 2u);
  EXPECT_NE(server->bound_addresses()[0], server->bound_addresses()[1]);
  EXPECT_EQ(Fetch(Url(*server, "/echo", 0)).status, 200);
  EXPECT_EQ(Fetch(Url(*server, "/echo", 1)).status, 200);
}

TEST(HttpServerTest, ServesIpv6Loopback) {
  HttpServerOptions options;
  options.listen_addresses = {"[::1]:0", "127.0.0.1:0"};
  Result<std::unique_ptr<HttpServer>> server = HttpServer::Start(options, {{"/echo", Echo}});
  if (!server.ok() &&
      server.status().message().find("Cannot assign requested address") != std::string::npos) {
    if (std::getenv("CI") != nullptr && std::string(std::getenv("CI")) == "true") {
      FAIL() << "this machine has no IPv6 loopback (::1): " << server.status().message();
    }
    GTEST_SKIP() << "NOT TESTED: this machine has no IPv6 loopback (::1)";
  }
  ASSERT_TRUE(server.ok()) << server.status().message();
  EXPECT_THAT((*server)->bound_addresses()[0], StartsWith("[::1]:"));
  Reply reply = Fetch(Url(**server, "/echo", 0));
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(Fetch(Url(**server, "/echo", 1)).status, 200);
}

TEST(HttpServerTest, MalformedListenAddressesAreClearErrors) {
  struct Case {
    std::string address, message;
  };
  for (const Case& c : std::vector<Case>{
           {"127.0.0.1", "missing port"},
           {"127.0.0.1:", "port must be a number from 0 to 65535"},
           {"127.0.0.1:65536", "port must be a number from 0 to 65535"},
           {"127.0.0.1:http", "port must be a number from 0 to 65535"},
           {"127.0.0.1:-1", "port must be a number from 0 to 65535"},
           {"::1:9101", "needs brackets"},
           {"[::1]9101", "expected [IPv6]:port"},
           {"[::1:9101", "expected [IPv6]:port"},
           {"[127.0.0.1]:9101", "not an IPv6 address"},
           {"300.0.0.1:9101", "host must be an IP address or localhost"},
           {"example.com:9101", "host must be an IP address or localhost"},
       }) {
    HttpServerOptions options;
    options.listen_addresses = {"127.0.0.1:0", c.address};
    Result<std::unique_ptr<HttpServer>> server = HttpServer::Start(options, {{"/echo", Echo}});
    ASSERT_FALSE(server.ok()) << c.address;
    EXPECT_THAT(server.status().message(), HasSubstr("\"" + c.address + "\"")) << c.address;
    EXPECT_THAT(server.status().message(), HasSubstr(c.message)) << c.address;
  }
}

/// "127.0.0.1:PORT" with a port the kernel just handed out and took back.
std::string FreeLoopbackAddress() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(in);
  std::string address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&in), sizeof(in)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&in), &length) == 0) {
    address = "127.0.0.1:" + std::to_string(ntohs(in.sin_port));
  }
  close(fd);
  return address;
}

TEST(HttpServerTest, AddressInUseIsAClearErrorAndBindsNothing) {
  auto first = MustStart(Loopback(), {{"/echo", Echo}});
  ASSERT_NE(first, nullptr);
  const std::string taken = first->bound_addresses()[0];

  // A port that was free a moment ago, for the address listed before the taken one.
  const std::string free = FreeLoopbackAddress();
  ASSERT_FALSE(free.empty());

  HttpServerOptions options;
  options.listen_addresses = {free, taken};
  Result<std::unique_ptr<HttpServer>> second = HttpServer::Start(options, {{"/echo", Echo}});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().message(), "listen " + taken + ": bind: Address already in use");
  EXPECT_EQ(Fetch(Url(*first, "/echo")).status, 200);  // The first server is unaffected.
  // The address that was bound before the failure has been released.
  HttpServerOptions again;
  again.listen_addresses = {free};
  EXPECT_TRUE(HttpServer::Start(again, {{"/echo", Echo}}).ok());
}

TEST(HttpServerTest, InvalidOptionsAreRejected) {
  HttpServerOptions no_address;
  no_address.listen_addresses.clear();
  EXPECT_FALSE(HttpServer::Start(no_address, {}).ok());

  HttpServerOptions no_threads = Loopback();
  no_threads.threads = 0;
  EXPECT_THAT(HttpServer::Start(no_threads, {}).status().message(), HasSubstr("threads"));

  HttpServerOptions no_timeout = Loopback();
  no_timeout.connection_timeout = Duration::zero();
  EXPECT_THAT(HttpServer::Start(no_timeout, {}).status().message(),
              HasSubstr("connection_timeout"));

  EXPECT_THAT(HttpServer::Start(Loopback(), {{"metrics", Echo}}).status().message(),
              HasSubstr("must start with /"));
  EXPECT_THAT(HttpServer::Start(Loopback(), {{"/metrics", nullptr}}).status().message(),
              HasSubstr("no handler"));
}

/// A TCP connection to `address` ("127.0.0.1:port") that the test drives by hand.
int ConnectRaw(const std::string& address) {
  size_t colon = address.rfind(':');
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  inet_pton(AF_INET, address.substr(0, colon).c_str(), &in.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&in), sizeof(in)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(HttpServerTest, SlowClientDoesNotHoldUpOthers) {
  auto server = MustStart(Loopback(), {{"/echo", Echo}});
  ASSERT_NE(server, nullptr);
  // Several clients that send half a request and then stall (slowloris), on the only thread.
  std::vector<int> stalled;
  for (int i = 0; i < 5; ++i) {
    int fd = ConnectRaw(server->bound_addresses()[0]);
    ASSERT_GE(fd, 0);
    const std::string partial = "GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    ASSERT_EQ(send(fd, partial.data(), partial.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(partial.size()));
    stalled.push_back(fd);
  }
  auto start = std::chrono::steady_clock::now();
  Reply reply = Fetch(Url(*server, "/echo"));
  EXPECT_EQ(reply.status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  for (int fd : stalled) close(fd);
}

TEST(HttpServerTest, IdleConnectionIsClosedAfterTheTimeout) {
  HttpServerOptions options = Loopback();
  options.connection_timeout = std::chrono::milliseconds(300);  // Rounded up to 1s.
  auto server = MustStart(std::move(options), {{"/echo", Echo}});
  ASSERT_NE(server, nullptr);
  int fd = ConnectRaw(server->bound_addresses()[0]);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(send(fd, "GET /echo HTTP/1.1\r\n", 20, MSG_NOSIGNAL), 20);
  timeval limit{.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  auto start = std::chrono::steady_clock::now();
  char byte;
  ssize_t n = recv(fd, &byte, 1, 0);
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(n, 0) << "expected the server to close the idle connection";
  EXPECT_LT(waited, std::chrono::seconds(5));
  close(fd);
}

TEST(HttpServerTest, LibmicrohttpdDiagnosticsGoToTheErrorLog) {
  std::mutex mutex;
  std::vector<std::string> logged;
  HttpServerOptions options = Loopback();
  options.error_log = [&](std::string_view line) {
    std::lock_guard lock(mutex);
    logged.emplace_back(line);
  };
  auto server = MustStart(std::move(options), {{"/echo", Echo}});
  ASSERT_NE(server, nullptr);
  int fd = ConnectRaw(server->bound_addresses()[0]);
  ASSERT_GE(fd, 0);
  const std::string bad = "GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n";
  ASSERT_EQ(send(fd, bad.data(), bad.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bad.size()));
  timeval limit{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  char buffer[256];
  ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
  close(fd);
  ASSERT_GT(n, 0);
  EXPECT_THAT(std::string(buffer, n), StartsWith("HTTP/1.1 400 "));
  std::lock_guard lock(mutex);
  EXPECT_THAT(logged,
              ::testing::Contains(HasSubstr("libmicrohttpd: Failed to parse `Content-Length'")));
}

TEST(HttpServerTest, ThreadPoolServesConcurrentRequests) {
  HttpServerOptions options = Loopback();
  options.threads = 3;
  std::atomic<int> calls = 0;
  auto server = MustStart(std::move(options), {{"/echo", [&](const HttpRequest& request) {
                                                  ++calls;
                                                  return Echo(request);
                                                }}});
  ASSERT_NE(server, nullptr);
  std::vector<std::thread> clients;
  std::atomic<int> ok = 0;
  for (int i = 0; i < 6; ++i) {
    clients.emplace_back([&] {
      for (int j = 0; j < 5; ++j) {
        if (Fetch(Url(*server, "/echo")).status == 200) ++ok;
      }
    });
  }
  for (std::thread& client : clients) client.join();
  EXPECT_EQ(ok, 30);
  EXPECT_EQ(calls, 30);
}

TEST(HttpServerTest, KeepAliveConnectionServesSeveralRequests) {
  auto server = MustStart(Loopback(), {{"/echo", Echo}});
  ASSERT_NE(server, nullptr);
  int fd = ConnectRaw(server->bound_addresses()[0]);
  ASSERT_GE(fd, 0);
  const std::string two =
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "GET /echo?q=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(send(fd, two.data(), two.size(), MSG_NOSIGNAL), static_cast<ssize_t>(two.size()));
  timeval limit{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  std::string received;
  char buffer[4096];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) received.append(buffer, n);
  close(fd);
  EXPECT_THAT(received, HasSubstr("method=POST\npath=/echo\nbody=abc\n"));
  EXPECT_THAT(received, HasSubstr("method=GET\npath=/echo\nquery q=2\nbody=\n"));
}

TEST(HttpServerTest, DestructorStopsServing) {
  auto server = MustStart(Loopback(), {{"/echo", Echo}});
  ASSERT_NE(server, nullptr);
  std::string address = server->bound_addresses()[0];
  EXPECT_EQ(Fetch("http://" + address + "/echo").status, 200);
  server.reset();
  Reply reply = Fetch("http://" + address + "/echo");
  EXPECT_EQ(reply.code, CURLE_COULDNT_CONNECT);
}

/// Collects the `respond` of every asynchronous request so the test answers them when it likes.
class PendingResponds {
 public:
  AsyncHttpHandler Handler() {
    return [this](const HttpRequest& request, HttpRespond respond) {
      std::lock_guard lock(mutex_);
      pending_.emplace_back(request.path, std::move(respond));
      changed_.notify_all();
    };
  }
  /// Waits (up to 5s) until `count` requests are pending.
  bool WaitFor(size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(5),
                             [&] { return pending_.size() >= count; });
  }
  /// The oldest pending `respond`, removed.
  HttpRespond Take() {
    std::lock_guard lock(mutex_);
    HttpRespond respond = std::move(pending_.front().second);
    pending_.pop_front();
    return respond;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::pair<std::string, HttpRespond>> pending_;
};

/// Receives until the peer closes (or 5s pass) and returns what came.
std::string ReceiveAll(int fd) {
  timeval limit{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  std::string received;
  char buffer[4096];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) received.append(buffer, n);
  return received;
}

int SendRequest(const std::string& address, const std::string& path) {
  int fd = ConnectRaw(address);
  if (fd < 0) return -1;
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(HttpServerAsyncTest, SlowAsyncHandlerDoesNotDelaySyncRoutesOnTheSameThread) {
  PendingResponds pending;
  auto server = MustStart(Loopback(), {{"/echo", Echo}}, {{"/slow", pending.Handler()}});
  ASSERT_NE(server, nullptr);
  // Two slow requests hold the only server thread's connections suspended...
  auto slow = std::async(std::launch::async, [&] { return Fetch(Url(*server, "/slow?a=1")); });
  auto slow2 = std::async(std::launch::async, [&] { return Fetch(Url(*server, "/slow?a=2")); });
  ASSERT_TRUE(pending.WaitFor(2));
  // ...while a synchronous route answers at once.
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    Reply fast = Fetch(Url(*server, "/echo"));
    EXPECT_EQ(fast.status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  }
  EXPECT_EQ(slow.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  // Answered from this thread, in the other order.
  HttpRespond first = pending.Take();
  HttpRespond second = pending.Take();
  HttpResponse done = HttpResponse::Text(202, "done\n");
  done.headers.emplace_back("X-Probe", "yes");
  second(done);
  first(HttpResponse::Text(200, "first\n"));
  std::vector<Reply> replies = {slow.get(), slow2.get()};
  std::sort(replies.begin(), replies.end(),
            [](const Reply& a, const Reply& b) { return a.status < b.status; });
  EXPECT_EQ(replies[0].status, 200);
  EXPECT_EQ(replies[0].body, "first\n");
  EXPECT_EQ(replies[1].status, 202);
  EXPECT_EQ(replies[1].body, "done\n");
  EXPECT_EQ(replies[1].headers["x-probe"], "yes");
}

TEST(HttpServerAsyncTest, RespondingBeforeReturningAndOnlyTheFirstAnswerCounts) {
  auto server = MustStart(
      Loopback(), {}, {{"/now", [](const HttpRequest& request, HttpRespond respond) {
                          respond(HttpResponse::Text(200, "now " + request.query.begin()->second));
                          respond(HttpResponse::Text(500, "ignored\n"));
                        }}});
  ASSERT_NE(server, nullptr);
  Reply reply = Fetch(Url(*server, "/now?q=x"));
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "now x");
  EXPECT_EQ(Fetch(Url(*server, "/other")).status, 404);
}

TEST(HttpServerAsyncTest, ThrowingAsyncHandlerIs500UnlessItAnswered) {
  std::mutex mutex;
  std::vector<std::string> logged;
  HttpServerOptions options = Loopback();
  options.error_log = [&](std::string_view line) {
    std::lock_guard lock(mutex);
    logged.emplace_back(line);
  };
  auto server = MustStart(
      std::move(options), {},
      {{"/throws", [](const HttpRequest&, HttpRespond) { throw std::runtime_error("async boom"); }},
       {"/answered-then-throws", [](const HttpRequest&, HttpRespond respond) {
          respond(HttpResponse::Text(200, "fine\n"));
          throw 42;
        }}});
  ASSERT_NE(server, nullptr);
  Reply thrown = Fetch(Url(*server, "/throws"));
  EXPECT_EQ(thrown.status, 500);
  EXPECT_EQ(thrown.body, "internal error\n");
  Reply answered = Fetch(Url(*server, "/answered-then-throws"));
  EXPECT_EQ(answered.status, 200);
  EXPECT_EQ(answered.body, "fine\n");
  std::lock_guard lock(mutex);
  EXPECT_THAT(logged, ::testing::Contains(HasSubstr("GET /throws threw: async boom")));
}

TEST(HttpServerAsyncTest, ClientThatLeavesWhileSuspendedIsHarmless) {
  PendingResponds pending;
  auto server = MustStart(Loopback(), {{"/echo", Echo}}, {{"/slow", pending.Handler()}});
  ASSERT_NE(server, nullptr);
  int fd = SendRequest(server->bound_addresses()[0], "/slow");
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(pending.WaitFor(1));
  close(fd);  // gone before the answer
  HttpRespond respond = pending.Take();
  respond(HttpResponse::Text(200, std::string(100000, 'x')));  // written to a closed socket
  respond(HttpResponse::Text(200, "again\n"));                 // ignored
  EXPECT_EQ(Fetch(Url(*server, "/echo")).status, 200);         // the server is unaffected
}

TEST(HttpServerAsyncTest, DestroyingTheServerWithSuspendedRequestsClosesThem) {
  PendingResponds pending;
  HttpServerOptions options = Loopback();
  options.threads = 2;  // a thread pool: suspended connections on several daemons
  auto server = MustStart(std::move(options), {}, {{"/slow", pending.Handler()}});
  ASSERT_NE(server, nullptr);
  std::vector<int> clients;
  for (int i = 0; i < 4; ++i) {
    int fd = SendRequest(server->bound_addresses()[0], "/slow");
    ASSERT_GE(fd, 0);
    clients.push_back(fd);
  }
  ASSERT_TRUE(pending.WaitFor(4));
  HttpRespond late = pending.Take();
  server.reset();  // must not wait for the answers, nor leak or crash
  for (int fd : clients) {
    // Either a 503 (resumed before the daemon stopped) or the connection closed without one.
    const std::string received = ReceiveAll(fd);
    EXPECT_TRUE(received.empty() || received.starts_with("HTTP/1.1 503 ")) << received;
    close(fd);
  }
  late(HttpResponse::Text(200, "too late\n"));  // after the server is gone: nothing happens
  pending.Take()(HttpResponse::Text(200, "too late\n"));
}

TEST(HttpServerAsyncTest, RespondRacingTheServerShutdown) {
  // Answers arrive from another thread while the server is being destroyed.
  for (int round = 0; round < 20; ++round) {
    PendingResponds pending;
    auto server = MustStart(Loopback(), {}, {{"/slow", pending.Handler()}});
    ASSERT_NE(server, nullptr);
    std::vector<int> clients;
    for (int i = 0; i < 3; ++i)
      clients.push_back(SendRequest(server->bound_addresses()[0], "/slow"));
    ASSERT_TRUE(pending.WaitFor(3));
    std::vector<HttpRespond> responds;
    for (int i = 0; i < 3; ++i) responds.push_back(pending.Take());
    std::thread answerer([&] {
      for (HttpRespond& respond : responds) respond(HttpResponse::Text(200, "ok\n"));
    });
    server.reset();
    answerer.join();
    for (int fd : clients) {
      const std::string received = ReceiveAll(fd);
      EXPECT_TRUE(received.empty() || received.starts_with("HTTP/1.1 200 ") ||
                  received.starts_with("HTTP/1.1 503 "))
          << received;
      close(fd);
    }
  }
}

TEST(HttpServerAsyncTest, InvalidAsyncRoutesAreRejected) {
  AsyncHttpHandler handler = [](const HttpRequest&, HttpRespond respond) {
    respond(HttpResponse::Text(200, "x"));
  };
  EXPECT_THAT(HttpServer::Start(Loopback(), {}, {{"probe", handler}}).status().message(),
              HasSubstr("must start with /"));
  EXPECT_THAT(HttpServer::Start(Loopback(), {}, {{"/probe", nullptr}}).status().message(),
              HasSubstr("no handler"));
  EXPECT_THAT(
      HttpServer::Start(Loopback(), {{"/probe", Echo}}, {{"/probe", handler}}).status().message(),
      HasSubstr("both synchronous and asynchronous"));
}

}  // namespace
}  // namespace sre::server
