#include "exporters/tcp/tcp_exporter.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>

#include "agent/net/curl_multi.h"
#include "agent/net/event_loop.h"
#include "agent/runtime/snapshot_store.h"
#include "tests/support/dnsmasq.h"
#include "tests/support/exporter_harness.h"
#include "tests/support/loopback_servers.h"
#include "tests/support/test_pki.h"

namespace sre::exporters::tcp {
namespace {

class TcpExporterTest : public ::testing::Test, protected testing::ExporterHarness {
 protected:
  TcpExporterTest() : ExporterHarness(MakeTcpFactory()) {}
};

/// The family names of a text exposition, in order.
std::vector<std::string> FamilyNames(const std::string& text) {
  std::vector<std::string> names;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("# TYPE ")) names.push_back(line.substr(7, line.find(' ', 7) - 7));
  }
  return names;
}

/// Whether any sample line of `text` has labels.
bool HasLabels(const std::string& text) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("#") && line.find('{') != std::string::npos) return true;
  }
  return false;
}

const std::vector<std::string> kBlackboxTcpFamilies = {"probe_dns_lookup_time_seconds",
                                                       "probe_duration_seconds",
                                                       "probe_failed_due_to_regex",
                                                       "probe_ip_addr_hash",
                                                       "probe_ip_protocol",
                                                       "probe_success"};

TEST_F(TcpExporterTest, ReachableEndpointSucceedsWithBlackboxSeries) {
  uint16_t port = 0;
  const testing::UniqueFd listener = testing::ListenLoopback(16, &port);
  auto exporter = Make("check: db\ntarget: 127.0.0.1:" + std::to_string(port));
  CollectResult result = CollectOnce(*exporter);
  EXPECT_TRUE(result.success) << result.message;
  const std::string labels = "check=\"db\",target=\"127.0.0.1:" + std::to_string(port) + "\"";
  const std::string text = Text(result);
  EXPECT_NE(text.find("probe_success{" + labels + ",address=\"127.0.0.1\"} 1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("probe_ip_protocol{" + labels + ",address=\"127.0.0.1\"} 4"),
            std::string::npos);
  EXPECT_NE(text.find("probe_attempts_total{" + labels + ",address=\"127.0.0.1\"} 1"),
            std::string::npos);
  EXPECT_NE(
      text.find("probe_tcp_connect_duration_seconds_count{" + labels + ",address=\"127.0.0.1\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("probe_dns_lookup_time_seconds{" + labels + "} 0"), std::string::npos);
  EXPECT_EQ(text.find("probe_failure_info"), std::string::npos);
  ASSERT_EQ(result.observations.size(), 1u);
  EXPECT_EQ(result.observations[0].subject, "127.0.0.1");
}

TEST_F(TcpExporterTest, RefusedPortFailsWithReasonAndCountsAcrossRuns) {
  const uint16_t port = testing::RefusedPort();
  auto exporter = Make("check: gone\ntarget: 127.0.0.1:" + std::to_string(port));
  CollectOnce(*exporter);
  CollectResult result = CollectOnce(*exporter);
  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.reason, Reason::kConnectionRefused);
  const std::string text = Text(result);
  EXPECT_NE(text.find("probe_success{check=\"gone\""), std::string::npos);
  EXPECT_NE(text.find("reason=\"connection_refused\"} 1"), std::string::npos) << text;
  EXPECT_NE(
      text.find("probe_failures_total{check=\"gone\",target=\"127.0.0.1:" + std::to_string(port) +
                "\",address=\"127.0.0.1\",reason=\"connection_refused\"} 2"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("probe_attempts_total{check=\"gone\",target=\"127.0.0.1:" +
                      std::to_string(port) + "\",address=\"127.0.0.1\"} 2"),
            std::string::npos);
}

// The whole exposition of a refused endpoint after two runs, against testdata/refused.prom.
// Durations and the port vary between runs and are masked. SRE_UPDATE_GOLDEN=1 rewrites the file.
TEST_F(TcpExporterTest, RefusedEndpointMatchesGoldenFile) {
  const uint16_t port = testing::RefusedPort();
  auto exporter = Make("check: db-writer\ntarget: 127.0.0.1:" + std::to_string(port));
  CollectOnce(*exporter);
  std::string text = Text(CollectOnce(*exporter));
  text = std::regex_replace(text, std::regex(":" + std::to_string(port) + "\""), ":PORT\"");
  ExpectGolden(MaskValues(text, "probe_(tcp_)?duration_seconds"),
               "exporters/tcp/testdata/refused.prom");
}

TEST_F(TcpExporterTest, UnresolvableNameIsADnsFailureWithoutAddress) {
  // Nothing listens on port 1: the DNS query is refused at once.
  auto exporter = Make("check: nowhere\ntarget: db.invalid:3306\ndns_servers: [\"127.0.0.1:1\"]");
  CollectResult result = CollectOnce(*exporter);
  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.reason, Reason::kDnsError) << ReasonName(result.reason);
  const std::string text = Text(result);
  EXPECT_NE(text.find("probe_success{check=\"nowhere\",target=\"db.invalid:3306\"} 0"),
            std::string::npos)
      << text;
}

TEST_F(TcpExporterTest, ExpiredCertificateFailsButStillReportsItsExpiry) {
  testing::TestPki pki;
  testing::LeafOptions expired;
  expired.not_before = -std::chrono::hours(48);
  expired.not_after = -std::chrono::hours(24);
  const testing::CertFiles leaf = pki.Issue("expired", expired);
  testing::TlsServer server(leaf.cert, leaf.key);
  auto exporter = Make("check: web\ntarget: 127.0.0.1:" + std::to_string(server.port()) +
                       "\ntls: true\ntls_config: {ca_file: " + pki.ca_file() + "}");
  CollectResult result = CollectOnce(*exporter);
  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.reason, Reason::kTlsExpired) << result.message;
  const std::string text = Text(result);
  EXPECT_NE(text.find("probe_ssl_earliest_cert_expiry{check=\"web\""), std::string::npos) << text;
  EXPECT_NE(text.find("reason=\"tls_expired\"} 1"), std::string::npos);
  EXPECT_NE(text.find("probe_tls_version_info{"), std::string::npos);
  ASSERT_EQ(result.observations.size(), 1u);
  EXPECT_DOUBLE_EQ(result.observations[0].figures.at("cert_expiry_unix"), leaf.not_after);
}

TEST_F(TcpExporterTest, SchemaRejectsBadTargetsAndRegexes) {
  auto parse = [&](const std::string& yaml) {
    auto document = config::Document::FromString(yaml, "t.yaml");
    return factory_->Parse(document->root(), config::ParseContext("t.yaml")).status().message();
  };
  EXPECT_EQ(parse("check: a\ntarget: db"),
            "t.yaml:2:9: invalid target \"db\": expected host:port, like db.internal:3306");
  EXPECT_EQ(parse("check: a\ntarget: db:1\nquery_response: [{expect: \"(\"}]").substr(0, 22),
            "t.yaml:3:27: invalid r");
  EXPECT_EQ(parse("check: a\ntarget: db:1\npreferred_ip_protocol: ip5"),
            "t.yaml:3:24: expected ip4 or ip6, got \"ip5\"");
  EXPECT_EQ(parse("check: a\ntarget: db:1\ndns_servers: [resolver]"),
            "t.yaml:3:14: invalid DNS server \"resolver\": expected an IP address with an "
            "optional port, like 10.0.0.2 or 127.0.0.1:5353");
  EXPECT_EQ(parse("check: a\ntarget: db:1\ntls_config: {insecure_skip_verify: true}"),
            "t.yaml:1:1: tls_config is set but tls is false: add `tls: true`");
  EXPECT_EQ(
      parse("check: a\ntarget: db:1\ntls: true\ntls_config: {ca_file: /dev/null}").substr(0, 7),
      "t.yaml:");
  EXPECT_EQ(parse("target: db:1"),
            "t.yaml:1:1: missing required key 'check' (name of this check: the `check` label)");
}

TEST_F(TcpExporterTest, ProbeSupportNamesTheTcpProber) {
  const ProbeSupport support = factory_->probe_support();
  EXPECT_EQ(support.prober, "tcp");
  EXPECT_EQ(support.target_key, "target");
  auto document = config::Document::FromString(
      "check: m\ntarget: " + std::string(support.example_target), "t.yaml");
  EXPECT_TRUE(factory_->Parse(document->root(), config::ParseContext("t.yaml")).ok());
}

TEST_F(TcpExporterTest, PeerModeReportsBlackboxFamiliesWithoutLabels) {
  uint16_t port = 0;
  const testing::UniqueFd listener = testing::ListenLoopback(16, &port);
  auto exporter =
      Make("check: tcp_connect\ntarget: 127.0.0.1:" + std::to_string(port) + "\nlabels: {team: db}",
           /*peer_compatible=*/true);
  for (int run = 0; run < 2; ++run) {  // nothing accumulates across runs either
    CollectResult result = CollectOnce(*exporter);
    EXPECT_TRUE(result.success) << result.message;
    const std::string text = Text(result);
    EXPECT_EQ(FamilyNames(text), kBlackboxTcpFamilies) << text;
    EXPECT_FALSE(HasLabels(text)) << text;
    EXPECT_NE(text.find("\nprobe_success 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\nprobe_ip_addr_hash 3668918509\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\nprobe_ip_protocol 4\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\nprobe_failed_due_to_regex 0\n"), std::string::npos) << text;
  }
}

TEST_F(TcpExporterTest, PeerModeFailureHasNoReasonSeries) {
  const uint16_t port = testing::RefusedPort();
  auto exporter =
      Make("check: m\ntarget: 127.0.0.1:" + std::to_string(port), /*peer_compatible=*/true);
  CollectResult result = CollectOnce(*exporter);
  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.reason, Reason::kConnectionRefused);
  const std::string text = Text(result);
  EXPECT_EQ(FamilyNames(text), kBlackboxTcpFamilies) << text;
  EXPECT_NE(text.find("\nprobe_success 0\n"), std::string::npos) << text;
}

TEST_F(TcpExporterTest, PeerModeDnsFailureReportsZeroAddress) {
  auto exporter = Make("check: m\ntarget: db.invalid:3306\ndns_servers: [\"127.0.0.1:1\"]",
                       /*peer_compatible=*/true);
  CollectResult result = CollectOnce(*exporter);
  EXPECT_EQ(result.reason, Reason::kDnsError);
  const std::string text = Text(result);
  EXPECT_EQ(FamilyNames(text), kBlackboxTcpFamilies) << text;
  EXPECT_NE(text.find("\nprobe_ip_addr_hash 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nprobe_ip_protocol 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nprobe_success 0\n"), std::string::npos) << text;
}

TEST_F(TcpExporterTest, PeerModeProbesOneAddressOfAName) {
  if (!testing::Dnsmasq::Available()) {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") {
      FAIL() << testing::Dnsmasq::kBinary << " is missing (install dnsmasq-base); CI=true";
    }
    GTEST_SKIP() << "\n*** SKIPPED: " << testing::Dnsmasq::kBinary
                 << " is missing: one address per /probe is NOT tested ***";
  }
  testing::Dnsmasq dns("127.0.0.2 multi.test\n127.0.0.3 multi.test\n127.0.0.4 multi.test\n",
                       "multi.test");
  ASSERT_EQ(dns.error(), "");
  const uint16_t port = testing::RefusedPort();
  auto exporter = Make("check: m\ntarget: multi.test:" + std::to_string(port) +
                           "\ndns_servers: [\"" + dns.server() + "\"]",
                       /*peer_compatible=*/true);
  CollectResult result = CollectOnce(*exporter);
  ASSERT_EQ(result.observations.size(), 1u) << result.message;
  const auto address = net::IpAddress::Parse(result.observations[0].subject);
  ASSERT_TRUE(address.has_value()) << result.observations[0].subject;
  const std::string text = Text(result);
  EXPECT_EQ(FamilyNames(text), kBlackboxTcpFamilies) << text;
  EXPECT_NE(text.find("\nprobe_ip_addr_hash " + std::to_string(net::AddressHash(*address)) + "\n"),
            std::string::npos)
      << text;
}

TEST_F(TcpExporterTest, PeerModeReportsTheCertificateOnlyAfterAVerifiedHandshake) {
  testing::TestPki pki;
  const testing::CertFiles good = pki.Issue("good", {});
  testing::TlsServer server(good.cert, good.key);
  auto exporter = Make("check: m\ntarget: 127.0.0.1:" + std::to_string(server.port()) +
                           "\ntls: true\ntls_config: {ca_file: " + pki.ca_file() + "}",
                       /*peer_compatible=*/true);
  CollectResult result = CollectOnce(*exporter);
  EXPECT_TRUE(result.success) << result.message;
  std::string text = Text(result);
  std::vector<std::string> expected = kBlackboxTcpFamilies;
  expected.insert(expected.begin() + 5, "probe_ssl_earliest_cert_expiry");
  expected.push_back("probe_tls_version_info");
  EXPECT_EQ(FamilyNames(text), expected) << text;
  EXPECT_NE(text.find("probe_tls_version_info{version=\"TLS 1.3\"} 1"), std::string::npos) << text;

  // blackbox_exporter's handshake fails on an expired certificate before it reads its expiry.
  testing::LeafOptions expired;
  expired.not_before = -std::chrono::hours(48);
  expired.not_after = -std::chrono::hours(24);
  const testing::CertFiles old = pki.Issue("expired", expired);
  testing::TlsServer old_server(old.cert, old.key);
  auto old_exporter = Make("check: m\ntarget: 127.0.0.1:" + std::to_string(old_server.port()) +
                               "\ntls: true\ntls_config: {ca_file: " + pki.ca_file() + "}",
                           /*peer_compatible=*/true);
  result = CollectOnce(*old_exporter);
  EXPECT_EQ(result.reason, Reason::kTlsExpired);
  text = Text(result);
  EXPECT_EQ(FamilyNames(text), kBlackboxTcpFamilies) << text;
}

}  // namespace
}  // namespace sre::exporters::tcp
