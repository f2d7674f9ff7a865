// HttpServer with ServerSecurity: basic auth checked off the server threads, headers, and
// reloads that switch TLS on and off without dropping a request in flight.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "agent/server/http_server.h"
#include "agent/server/http_test_client.h"
#include "tests/support/test_pki.h"

namespace sre::server {
namespace {

using ::testing::HasSubstr;

constexpr char kHash[] = "$2b$04$7A0QZgRDiG3WjCeFelWuIOuvtHfP0OGyEvMsSuCefheIrwNG0I3zu";

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

HttpServerOptions Loopback(ServerSecurity security = {}) {
  HttpServerOptions options;
  options.listen_addresses = {"127.0.0.1:0"};
  options.security = std::move(security);
  return options;
}

HttpResponse Hello(const HttpRequest&) { return HttpResponse::Text(200, "hello\n"); }

std::unique_ptr<HttpServer> MustStart(HttpServerOptions options) {
  AsyncHttpHandler async_hello = [](const HttpRequest& request, HttpRespond respond) {
    respond(Hello(request));
  };
  auto server = HttpServer::Start(std::move(options), {{"/sync", Hello}},
                                  {{"/async", std::move(async_hello)}});
  EXPECT_TRUE(server.ok()) << server.status().message();
  return server.ok() ? std::move(server).value() : nullptr;
}

std::string Url(const HttpServer& server, const std::string& scheme, const std::string& path) {
  // The test certificate is for localhost and 127.0.0.1.
  return scheme + "://" + server.bound_addresses().at(0) + path;
}

/// TLS settings from a leaf of `pki`.
std::shared_ptr<const TlsSettings> Tls(testing::TestPki& pki, const std::string& name) {
  testing::CertFiles files = pki.Issue(name);
  auto tls = std::make_shared<TlsSettings>();
  tls->cert_pem = ReadFile(files.cert);
  tls->key_pem = ReadFile(files.key);
  tls->priorities = "NORMAL";
  EXPECT_TRUE(tls->Check().ok()) << tls->Check().message();
  return tls;
}

TEST(HttpServerSecurityTest, EveryRouteNeedsTheRightPassword) {
  ServerSecurity security;
  security.basic_auth =
      BasicAuth::Create({{"alice", kHash}}, [](const std::string& password, const std::string&) {
        return password == "right";
      }).value();
  auto server = MustStart(Loopback(security));
  ASSERT_NE(server, nullptr);
  for (const char* path : {"/sync", "/async"}) {
    Reply anonymous = Fetch(Url(*server, "http", path));
    EXPECT_EQ(anonymous.status, 401) << path;
    EXPECT_EQ(anonymous.headers["www-authenticate"], "Basic");
    EXPECT_EQ(Fetch(Url(*server, "http", path), {.user_password = "alice:wrong"}).status, 401);
    EXPECT_EQ(Fetch(Url(*server, "http", path), {.user_password = "bob:right"}).status, 401);
    Reply allowed = Fetch(Url(*server, "http", path), {.user_password = "alice:right"});
    EXPECT_EQ(allowed.status, 200) << path;
    EXPECT_EQ(allowed.body, "hello\n");
  }
  EXPECT_EQ(Fetch(Url(*server, "http", "/none")).status, 404);
}

TEST(HttpServerSecurityTest, APasswordCheckDoesNotHoldUpCachedCredentials) {
  // The check of "slow" waits for the test; "right" is cached by a first request.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  ServerSecurity security;
  security.basic_auth =
      BasicAuth::Create({{"alice", kHash}}, [released](const std::string& password,
                                                       const std::string&) {
        if (password == "slow") released.wait();
        return password == "right";
      }).value();
  auto server = MustStart(Loopback(security));
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(Fetch(Url(*server, "http", "/sync"), {.user_password = "alice:right"}).status, 200);

  auto pending = std::async(std::launch::async, [&] {
    return Fetch(Url(*server, "http", "/sync"), {.user_password = "alice:slow"});
  });
  // Served by the same server thread while the other check still waits.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Fetch(Url(*server, "http", "/async"), {.user_password = "alice:right"}).status, 200);
  }
  EXPECT_EQ(pending.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  release.set_value();
  EXPECT_EQ(pending.get().status, 401);
}

TEST(HttpServerSecurityTest, HeadersAreAddedAndReplacedByAReload) {
  ServerSecurity security;
  security.headers = {{"X-Frame-Options", "deny"}};
  auto server = MustStart(Loopback(security));
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(Fetch(Url(*server, "http", "/sync")).headers["x-frame-options"], "deny");
  EXPECT_EQ(Fetch(Url(*server, "http", "/none")).headers["x-frame-options"], "deny");
  ServerSecurity next;
  next.headers = {{"X-Content-Type-Options", "nosniff"}};
  ASSERT_TRUE(server->Reload(next).ok());
  Reply reply = Fetch(Url(*server, "http", "/async"));
  EXPECT_EQ(reply.headers.count("x-frame-options"), 0u);
  EXPECT_EQ(reply.headers["x-content-type-options"], "nosniff");
}

TEST(HttpServerSecurityTest, ReloadTurnsTlsOnAndOffWithoutDroppingAKeptAliveRequest) {
  testing::TestPki pki;
  auto server = MustStart(Loopback());
  ASSERT_NE(server, nullptr);
  CURL* kept_alive = curl_easy_init();
  ASSERT_EQ(Fetch(Url(*server, "http", "/sync"), {.handle = kept_alive}).status, 200);

  ServerSecurity tls;
  tls.tls = Tls(pki, "first");
  ASSERT_TRUE(server->Reload(tls).ok());
  // The connection opened before the reload gets its answer, and is told to close.
  Reply last = Fetch(Url(*server, "http", "/sync"), {.handle = kept_alive});
  EXPECT_EQ(last.status, 200);
  EXPECT_EQ(last.headers["connection"], "close");
  curl_easy_cleanup(kept_alive);
  // New connections speak TLS only.
  EXPECT_NE(Fetch(Url(*server, "http", "/sync")).code, CURLE_OK);
  EXPECT_EQ(Fetch(Url(*server, "https", "/async"), {.ca_file = pki.ca_file()}).status, 200);

  tls.tls = Tls(pki, "second");  // a renewed certificate: another daemon again
  ASSERT_TRUE(server->Reload(tls).ok());
  EXPECT_EQ(Fetch(Url(*server, "https", "/sync"), {.ca_file = pki.ca_file()}).status, 200);

  ASSERT_TRUE(server->Reload({}).ok());
  EXPECT_EQ(Fetch(Url(*server, "http", "/sync")).status, 200);
}

TEST(HttpServerSecurityTest, ATlsReloadThatCannotStartKeepsTheOldSettings) {
  testing::TestPki pki;
  ServerSecurity tls;
  tls.tls = Tls(pki, "server");
  auto server = MustStart(Loopback(tls));
  ASSERT_NE(server, nullptr);
  auto broken = std::make_shared<TlsSettings>(*tls.tls);
  broken->priorities = "NOT-A-PRIORITY";
  ServerSecurity next;
  next.tls = broken;
  EXPECT_THAT(server->Reload(next).message(), HasSubstr("libmicrohttpd failed to start"));
  EXPECT_EQ(Fetch(Url(*server, "https", "/sync"), {.ca_file = pki.ca_file()}).status, 200);
}

TEST(HttpServerSecurityTest, RequestsDuringRepeatedReloadsAllGetAnswers) {
  testing::TestPki pki;
  ServerSecurity a, b;
  a.tls = Tls(pki, "a");
  b.tls = Tls(pki, "b");
  auto server = MustStart(Loopback(a));
  ASSERT_NE(server, nullptr);
  std::atomic<bool> stop = false;
  std::atomic<int> answered = 0;
  std::vector<std::string> failures;
  std::thread client([&] {
    CURL* handle = curl_easy_init();
    while (!stop) {
      Reply reply =
          Fetch(Url(*server, "https", "/async"), {.ca_file = pki.ca_file(), .handle = handle});
      if (reply.status == 200) {
        ++answered;
      } else {
        failures.push_back(curl_easy_strerror(reply.code));
      }
    }
    curl_easy_cleanup(handle);
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int i = 0; i < 6; ++i) {
    const int before = answered;
    EXPECT_TRUE(server->Reload(i % 2 == 0 ? b : a).ok());
    while (answered < before + 3 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
  }
  stop = true;
  client.join();
  EXPECT_GE(answered, 18);
  EXPECT_THAT(failures, ::testing::IsEmpty());
}

}  // namespace
}  // namespace sre::server
