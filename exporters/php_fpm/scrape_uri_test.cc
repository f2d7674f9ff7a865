#include "exporters/php_fpm/scrape_uri.h"

#include <gtest/gtest.h>

namespace sre::exporters::php_fpm {
namespace {

TEST(ScrapeUriTest, ParsesHipagesSyntax) {
  auto tcp = ScrapeUri::Parse("tcp://127.0.0.1:9000/status");
  ASSERT_TRUE(tcp.ok()) << tcp.status().message();
  EXPECT_EQ(tcp->host, "127.0.0.1");
  EXPECT_EQ(tcp->port, 9000);
  EXPECT_EQ(tcp->status_path, "/status");
  EXPECT_TRUE(tcp->unix_path.empty());

  auto unix_socket = ScrapeUri::Parse("unix:///run/php/php8.2-fpm.sock;/fpm-status");
  ASSERT_TRUE(unix_socket.ok()) << unix_socket.status().message();
  EXPECT_EQ(unix_socket->unix_path, "/run/php/php8.2-fpm.sock");
  EXPECT_EQ(unix_socket->status_path, "/fpm-status");
  EXPECT_EQ(unix_socket->text, "unix:///run/php/php8.2-fpm.sock;/fpm-status");

  auto no_path = ScrapeUri::Parse("unix:///run/php/www.sock");
  ASSERT_TRUE(no_path.ok());
  EXPECT_EQ(no_path->status_path, "/status");  // hipages' default

  auto v6 = ScrapeUri::Parse("tcp://[::1]:9000/status");
  ASSERT_TRUE(v6.ok()) << v6.status().message();
  EXPECT_EQ(v6->host, "::1");
}

TEST(ScrapeUriTest, RejectsWhatItCannotUseAndSaysWhy) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"http://127.0.0.1:9000/status", "the scheme must be tcp:// or unix://"},
      {"tcp://127.0.0.1/status", "expected HOST:PORT"},
      {"tcp://127.0.0.1:9000", "the status path is missing"},
      {"unix://run/php.sock;/status", "must be absolute"},
      {"unix:///run/php.sock;status", "not a status path"},
      {"tcp://127.0.0.1:9000/status?json", "not a status path"},
  };
  for (const auto& [text, message] : cases) {
    auto uri = ScrapeUri::Parse(text);
    ASSERT_FALSE(uri.ok()) << text;
    EXPECT_NE(uri.status().message().find(message), std::string::npos) << uri.status().message();
  }
}

TEST(ScrapeUriTest, DiscoveredSocketsGetTheUriHipagesWouldShow) {
  const ScrapeUri uri = ScrapeUri::ForSocket("/run/php/www.sock", "/status");
  EXPECT_EQ(uri.text, "unix:///run/php/www.sock;/status");
  auto parsed = ScrapeUri::Parse(uri.text);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->unix_path, "/run/php/www.sock");
}

}  // namespace
}  // namespace sre::exporters::php_fpm
