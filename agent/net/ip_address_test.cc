#include "agent/net/ip_address.h"

#include <gtest/gtest.h>

#include <cstring>

namespace sre::net {
namespace {

TEST(IpAddressTest, ParsesAndFormatsBothFamilies) {
  auto v4 = IpAddress::Parse("10.0.0.1");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->family(), IpFamily::kIp4);
  EXPECT_EQ(v4->ToString(), "10.0.0.1");

  auto v6 = IpAddress::Parse("2001:DB8:0:0::1");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->family(), IpFamily::kIp6);
  EXPECT_EQ(v6->ToString(), "2001:db8::1");  // canonical form
  EXPECT_EQ(IpAddress::Parse("::1")->ToString(), "::1");
  EXPECT_EQ(IpAddress::Parse("::ffff:1.2.3.4")->family(), IpFamily::kIp6);
}

TEST(IpAddressTest, RejectsWhatIsNotALiteral) {
  for (const char* text : {"", "localhost", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.4 ",
                           " 1.2.3.4", "::1::", "[::1]", "1.2.3.4:80", "fe80::1%eth0", "0x7f.1",
                           "aaaa:bbbb:cccc:dddd:eeee:ffff:1111:2222:3333:4444:5555:6666"}) {
    EXPECT_FALSE(IpAddress::Parse(text)) << text;
  }
  // Embedded NUL: the literal would be cut short by a C API.
  EXPECT_FALSE(IpAddress::Parse(std::string_view("1.2.3.4\0junk", 12)));
}

TEST(IpAddressTest, EqualityComparesFamilyAndBytes) {
  EXPECT_EQ(*IpAddress::Parse("127.0.0.1"), *IpAddress::Parse("127.0.0.1"));
  EXPECT_NE(*IpAddress::Parse("127.0.0.1"), *IpAddress::Parse("127.0.0.2"));
  EXPECT_EQ(*IpAddress::Parse("::1"), *IpAddress::Parse("0:0::1"));
  // 0.0.0.0 and :: have the same (zero) bytes but not the same family.
  EXPECT_NE(*IpAddress::Parse("0.0.0.0"), *IpAddress::Parse("::"));
}

TEST(IpAddressTest, SockaddrRoundTrip) {
  for (const char* text : {"192.0.2.7", "2001:db8::7"}) {
    const IpAddress address = *IpAddress::Parse(text);
    sockaddr_storage storage;
    const socklen_t length = address.ToSockaddr(8443, &storage);
    if (address.family() == IpFamily::kIp4) {
      ASSERT_EQ(length, sizeof(sockaddr_in));
      sockaddr_in in4;
      std::memcpy(&in4, &storage, sizeof in4);
      EXPECT_EQ(in4.sin_family, AF_INET);
      EXPECT_EQ(ntohs(in4.sin_port), 8443);
    } else {
      ASSERT_EQ(length, sizeof(sockaddr_in6));
      sockaddr_in6 in6;
      std::memcpy(&in6, &storage, sizeof in6);
      EXPECT_EQ(in6.sin6_family, AF_INET6);
      EXPECT_EQ(ntohs(in6.sin6_port), 8443);
    }
    EXPECT_EQ(IpAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&storage)), address);
  }
}

TEST(HostPortTest, SplitsNamesIpv4AndBracketedIpv6) {
  auto db = HostPort::Parse("db:3306");
  ASSERT_TRUE(db);
  EXPECT_EQ(db->host, "db");
  EXPECT_EQ(db->port, 3306);

  auto v4 = HostPort::Parse("10.0.0.1:5432");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "10.0.0.1");
  EXPECT_EQ(v4->port, 5432);

  auto v6 = HostPort::Parse("[::1]:53");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");  // without brackets: ready for IpAddress::Parse
  EXPECT_EQ(v6->port, 53);

  auto fqdn = HostPort::Parse("db-1.prod_eu.example.com:65535");
  ASSERT_TRUE(fqdn);
  EXPECT_EQ(fqdn->host, "db-1.prod_eu.example.com");
  EXPECT_EQ(fqdn->port, 65535);
  EXPECT_EQ(HostPort::Parse("db:1")->port, 1);
}

TEST(HostPortTest, RejectsMissingOrBadPortsEmptyHostsAndJunk) {
  for (const char* text :
       {"",       "db",       "db:",    ":80",     "db:0",         "db:65536",      "db:99999",
        "db:-1",  "db:+80",   "db:80a", "db:8 0",  "db: 80",       "db:0x50",       "db:123456",
        "::1:53", "[::1]",    "[::1]:", "[::1]53", "[::1:53",      "[10.0.0.1]:53", "[db]:53",
        "[]:53",  "db:80:90", "d b:80", "db/x:80", "http://db:80", "-db:80",        ".db:80",
        "db\n:80"}) {
    EXPECT_FALSE(HostPort::Parse(text)) << '"' << text << '"';
  }
}

TEST(AddressHashTest, IsFnv1aOfTheAddressBytesAsBlackboxComputesIt) {
  // Values from blackbox_exporter 0.23 (Go's fnv.New32a over net.IP.To4() or To16()).
  EXPECT_EQ(AddressHash(*IpAddress::Parse("127.0.0.1")), 3668918509u);
  EXPECT_EQ(AddressHash(*IpAddress::Parse("10.1.2.3")), 2037296051u);
  EXPECT_EQ(AddressHash(*IpAddress::Parse("::1")), 1751717746u);
}

}  // namespace
}  // namespace sre::net
