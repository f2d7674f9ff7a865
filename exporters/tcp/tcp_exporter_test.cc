#include "exporters/tcp/tcp_exporter.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>

#include "agent/net/event_loop.h"
#include "agent/runtime/snapshot_store.h"
#include "tests/support/loopback_servers.h"
#include "tests/support/test_pki.h"

namespace sre::exporters::tcp {
namespace {

class TcpExporterTest : public ::testing::Test {
 protected:
  std::unique_ptr<Exporter> Make(const std::string& yaml) {
    auto document = config::Document::FromString(yaml, "test.yaml");
    EXPECT_TRUE(document.ok()) << document.status().message();
    auto spec = factory_->Parse(document->root(), config::ParseContext("test.yaml"));
    EXPECT_TRUE(spec.ok()) << spec.status().message();
    auto exporter = factory_->Create(*spec, env_);
    EXPECT_TRUE(exporter.ok()) << exporter.status().message();
    return std::move(exporter).value();
  }

  CollectResult Run(Exporter& exporter) {
    std::optional<CollectResult> result;
    exporter.Collect(clock_.Now() + std::chrono::seconds(2),
                     [&](CollectResult r) { result = std::move(r); });
    while (!result) loop_.RunOnce(std::chrono::milliseconds(50));
    return std::move(*result);
  }

  static std::string Text(const CollectResult& result) {
    return MergeExposition({MakeSnapshot({}, result.families)}, ExpositionFormat::kText004);
  }

  SystemClock clock_;
  net::EventLoop loop_{clock_};
  net::ResolverPool resolvers_{loop_};
  Logger log_{LogLevel::kError, LogFormat::kLogfmt, stderr, clock_};
  ExporterEnv env_{loop_, resolvers_, log_};
  std::unique_ptr<ExporterFactory> factory_ = MakeTcpFactory();
};

TEST_F(TcpExporterTest, ReachableEndpointSucceedsWithBlackboxSeries) {
  uint16_t port = 0;
  const testing::UniqueFd listener = testing::ListenLoopback(16, &port);
  auto exporter = Make("check: db\ntarget: 127.0.0.1:" + std::to_string(port));
  CollectResult result = Run(*exporter);
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
  Run(*exporter);
  CollectResult result = Run(*exporter);
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
  Run(*exporter);
  std::string text = Text(Run(*exporter));
  text = std::regex_replace(text, std::regex(":" + std::to_string(port) + "\""), ":PORT\"");
  text = std::regex_replace(
      text, std::regex(R"((\nprobe_(tcp_)?duration_seconds\{[^\n]*\}) [^\n]+)"), "$1 <duration>");
  const std::string path =
      std::string(std::getenv("SRE_SOURCE_DIR")) + "/exporters/tcp/testdata/refused.prom";
  if (std::getenv("SRE_UPDATE_GOLDEN") != nullptr) std::ofstream(path) << text;
  std::ifstream golden(path);
  ASSERT_TRUE(golden.good()) << path;
  std::stringstream expected;
  expected << golden.rdbuf();
  EXPECT_EQ(text, expected.str());
}

TEST_F(TcpExporterTest, UnresolvableNameIsADnsFailureWithoutAddress) {
  // Nothing listens on port 1: the DNS query is refused at once.
  auto exporter = Make("check: nowhere\ntarget: db.invalid:3306\ndns_servers: [\"127.0.0.1:1\"]");
  CollectResult result = Run(*exporter);
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
  CollectResult result = Run(*exporter);
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

}  // namespace
}  // namespace sre::exporters::tcp
