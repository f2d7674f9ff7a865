#include "agent/runtime/target_allowlist.h"

#include <gtest/gtest.h>

namespace sre {
namespace {

TargetAllowlist Make(const std::vector<std::string>& patterns) {
  auto allowlist = TargetAllowlist::Create(patterns);
  EXPECT_TRUE(allowlist.ok()) << allowlist.status().message();
  return allowlist.ok() ? std::move(allowlist).value() : TargetAllowlist();
}

TEST(TargetHostTest, ExtractsTheHostOfEveryTargetShape) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"http://Web.Example.com:8080/path?q=1#f", "web.example.com"},
      {"https://user:pw@web.example.com/", "web.example.com"},
      {"https://web.example.com", "web.example.com"},
      {"http://a.example.com@evil.test/", "evil.test"},  // userinfo ends at the last '@'
      {"http://web.example.com#@evil.test", "web.example.com"},
      {"http://[::1]:8080/x", "::1"},
      {"http://[2001:DB8::1]/", "2001:db8::1"},
      {"db.internal:5432", "db.internal"},
      {"db.internal", "db.internal"},
      {"DB.Internal.:5432", "db.internal"},
      {"127.0.0.1:80", "127.0.0.1"},
      {"[::1]:443", "::1"},
      {"[::1]", "::1"},
      {"::1", "::1"},
      {"::ffff:10.0.0.1", "::ffff:10.0.0.1"},
      {"under_score.local:1", "under_score.local"},
  };
  for (const auto& [target, host] : cases) {
    EXPECT_EQ(TargetHost(target).value_or("<none>"), host) << target;
  }
}

TEST(TargetHostTest, RefusesTargetsWithoutAPlainHost) {
  for (const char* target : {"",
                             "http://",
                             "http:///path",
                             ":80",
                             "http://:80/",
                             "[::1",
                             "[::1]x",
                             "[::1]:x",
                             "[127.0.0.1]:80",
                             "http://::1/",
                             "::1:80:x",
                             "db:port",
                             "db:123456",
                             "a b:80",
                             "http://evil.test\\@web.example.com/",
                             "web.example.com/path",
                             "user@web:80",
                             "http://exa%6dple.com/",
                             "fe80::1%eth0",
                             "[fe80::1%25eth0]:80",
                             "a..b",
                             ".a",
                             "a\n.b",
                             "http://web.example.com:x/",
                             "xn--bcher-kva.example\x7f"}) {
    EXPECT_FALSE(TargetHost(target).has_value()) << target;
  }
}

TEST(TargetAllowlistTest, EmptyAllowsNothing) {
  TargetAllowlist allowlist;
  EXPECT_TRUE(allowlist.empty());
  EXPECT_FALSE(allowlist.Allows("127.0.0.1:80"));
  EXPECT_FALSE(allowlist.Allows("localhost:80"));
}

TEST(TargetAllowlistTest, ExactNamesIgnoreCaseAndATrailingDot) {
  TargetAllowlist allowlist = Make({"Web.Internal", "db.internal."});
  EXPECT_TRUE(allowlist.Allows("web.internal:80"));
  EXPECT_TRUE(allowlist.Allows("http://WEB.internal/health"));
  EXPECT_TRUE(allowlist.Allows("web.internal.:80"));
  EXPECT_TRUE(allowlist.Allows("db.internal:5432"));
  EXPECT_FALSE(allowlist.Allows("x.web.internal:80"));
  EXPECT_FALSE(allowlist.Allows("web.internal.evil.test:80"));
  EXPECT_FALSE(allowlist.Allows("eb.internal:80"));
}

TEST(TargetAllowlistTest, WildcardNeedsAtLeastOneLabelInFront) {
  TargetAllowlist allowlist = Make({"*.example.com"});
  EXPECT_TRUE(allowlist.Allows("https://www.example.com/"));
  EXPECT_TRUE(allowlist.Allows("a.b.c.Example.COM:443"));
  EXPECT_FALSE(allowlist.Allows("https://example.com/"));
  EXPECT_FALSE(allowlist.Allows("https://badexample.com/"));
  EXPECT_FALSE(allowlist.Allows("https://www.example.com.evil.test/"));
  EXPECT_FALSE(allowlist.Allows("https://www.example.com@evil.test/"));
}

TEST(TargetAllowlistTest, IpLiteralsAndCidrBlocks) {
  TargetAllowlist allowlist = Make({"10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1", "0.0.0.0/32"});
  EXPECT_TRUE(allowlist.Allows("10.1.2.3:80"));
  EXPECT_TRUE(allowlist.Allows("http://10.255.255.255/"));
  EXPECT_FALSE(allowlist.Allows("11.0.0.1:80"));
  EXPECT_TRUE(allowlist.Allows("192.168.1.7:22"));
  EXPECT_FALSE(allowlist.Allows("192.168.1.8:22"));
  EXPECT_TRUE(allowlist.Allows("[fd12:3456::1]:80"));
  EXPECT_FALSE(allowlist.Allows("[fe80::1]:80"));
  EXPECT_TRUE(allowlist.Allows("[::1]:80"));
  EXPECT_TRUE(allowlist.Allows("http://[0:0:0:0:0:0:0:1]/"));
  EXPECT_TRUE(allowlist.Allows("0.0.0.0:80"));
  // An IPv4-mapped IPv6 address is the IPv4 address it maps.
  EXPECT_TRUE(allowlist.Allows("[::ffff:10.0.0.1]:80"));
  EXPECT_FALSE(allowlist.Allows("[::ffff:11.0.0.1]:80"));
  // Names are never resolved for the check, so a CIDR does not allow them.
  EXPECT_FALSE(allowlist.Allows("localhost:80"));
}

TEST(TargetAllowlistTest, PrefixesThatAreNotWholeBytes) {
  TargetAllowlist allowlist = Make({"172.16.0.0/12", "2001:db8:8000::/33", "0.0.0.0/0"});
  EXPECT_TRUE(allowlist.AllowsHost("1.2.3.4"));  // 0.0.0.0/0: every IPv4 address
  EXPECT_TRUE(allowlist.AllowsHost("2001:db8:8000::1"));
  EXPECT_TRUE(allowlist.AllowsHost("2001:db8:ffff::1"));
  EXPECT_FALSE(allowlist.AllowsHost("2001:db8:7fff::1"));
  EXPECT_FALSE(allowlist.AllowsHost("example.com"));

  TargetAllowlist narrow = Make({"172.16.0.0/12"});
  EXPECT_TRUE(narrow.AllowsHost("172.31.255.255"));
  EXPECT_FALSE(narrow.AllowsHost("172.32.0.0"));
  EXPECT_FALSE(narrow.AllowsHost("172.15.255.255"));
}

TEST(TargetAllowlistTest, StarAllowsEveryTargetWithAHost) {
  TargetAllowlist allowlist = Make({"*"});
  EXPECT_TRUE(allowlist.Allows("anything.test:1"));
  EXPECT_TRUE(allowlist.Allows("[::1]:1"));
  EXPECT_FALSE(allowlist.Allows("http:///nohost"));
}

TEST(TargetAllowlistTest, InvalidPatternsSayWhy) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty pattern"},
      {"10.0.0.1/8", "did you mean 10.0.0.0/8?"},
      {"fd00::1/8", "did you mean fd00::/8?"},
      {"10.0.0.0/33", "prefix length must be a number from 0 to 32"},
      {"::/129", "prefix length must be a number from 0 to 128"},
      {"10.0.0.0/", "prefix length"},
      {"10.0.0.0/x", "prefix length"},
      {"example.com/8", "expected a CIDR block"},
      {"::ffff:10.0.0.0/104", "IPv4 form"},
      {"web.internal:80", "without a port"},
      {"www.*.example.com", "whole first label"},
      {"*example.com", "whole first label"},
      {"*.", "expected a host name"},
      {"we b", "expected a host name"},
      {"a..b", "expected a host name"},
  };
  for (const auto& [pattern, why] : cases) {
    auto error = TargetAllowlist::CheckPattern(pattern);
    ASSERT_TRUE(error.has_value()) << pattern;
    EXPECT_NE(error->find(why), std::string::npos) << pattern << ": " << *error;
  }
  auto bad = TargetAllowlist::Create({"ok.test", "10.0.0.1/8"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "invalid allow pattern \"10.0.0.1/8\": address bits are set past the prefix; did you "
            "mean 10.0.0.0/8?");
}

}  // namespace
}  // namespace sre
