#include "exporters/http_probe/http_exporter.h"

#include <gtest/gtest.h>

#include <atomic>
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

namespace sre::exporters::http_probe {
namespace {

using testing::LoopbackServer;
namespace handlers = testing::handlers;

constexpr const char* kOk =
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nLast-Modified: Wed, 21 Oct 2026 07:28:00 GMT\r\n"
    "Connection: close\r\n\r\nok";

class HttpProbeTest : public ::testing::Test, protected testing::ExporterHarness {
 protected:
  HttpProbeTest() : ExporterHarness(MakeHttpProbeFactory()) {}

  static std::string Url(uint16_t port, const std::string& path = "/") {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }

  static std::string Series(const std::string& name, const std::string& url,
                            const std::string& extra = "") {
    return name + "{check=\"web\",target=\"" + url + "\",address=\"127.0.0.1\"" + extra + "}";
  }
};

TEST_F(HttpProbeTest, OkResponseReportsBlackboxSeriesAndCounters) {
  LoopbackServer server(handlers::HttpReply(kOk));
  const std::string url = Url(server.port(), "/health");
  auto exporter = Make("check: web\nurl: " + url);
  const CollectResult result = CollectOnce(*exporter);
  EXPECT_TRUE(result.success) << result.message;
  const std::string text = Text(result);
  EXPECT_EQ(Value(text, Series("probe_success", url)), 1) << text;
  EXPECT_EQ(Value(text, Series("probe_http_status_code", url)), 200);
  EXPECT_EQ(Value(text, Series("probe_http_content_length", url)), 2);
  EXPECT_EQ(Value(text, Series("probe_http_uncompressed_body_length", url)), 2);
  EXPECT_EQ(Value(text, Series("probe_http_version", url)), 1.1);
  EXPECT_EQ(Value(text, Series("probe_http_ssl", url)), 0);
  EXPECT_EQ(Value(text, Series("probe_http_redirects", url)), 0);
  EXPECT_EQ(Value(text, Series("probe_http_last_modified_timestamp_seconds", url)), 1792567680);
  EXPECT_EQ(Value(text, Series("probe_ip_addr_hash", url)), 3668918509.0);
  EXPECT_GT(*Value(text, Series("probe_http_duration_seconds", url, ",phase=\"processing\"")), 0);
  EXPECT_EQ(Value(text, Series("probe_attempts_total", url)), 1);
  EXPECT_EQ(Value(text, Series("probe_http_request_duration_seconds_count", url)), 1);
  EXPECT_EQ(Value(text, "probe_sla_violation_open{check=\"web\",target=\"" + url + "\"}"), 0);
  EXPECT_EQ(text.find("probe_failure_info"), std::string::npos);
  EXPECT_EQ(server.recorded().front(), "GET /health HTTP/1.1");
  ASSERT_EQ(result.observations.size(), 1u);
  EXPECT_EQ(result.observations[0].details.at("http_version"), "HTTP/1.1");
}

// The whole exposition of a 200 after two runs, against testdata/ok.prom. Durations and the port
// vary between runs and are masked. SRE_UPDATE_GOLDEN=1 rewrites the file.
TEST_F(HttpProbeTest, OkResponseMatchesGoldenFile) {
  LoopbackServer server(handlers::HttpReply(kOk));
  auto exporter = Make("check: web\nurl: " + Url(server.port()) + "\nlabels: {location: eu-1}");
  CollectOnce(*exporter);
  std::string text = Text(CollectOnce(*exporter));
  text = std::regex_replace(text, std::regex(":" + std::to_string(server.port()) + "/"), ":PORT/");
  text = MaskValues(text,
                    "(probe_http_request|probe|probe_http|probe_dns_lookup)_(duration|time)_seconds"
                    "(_sum)?");
  text = MaskValues(text, "probe_http_request_duration_seconds_bucket", "<count>");
  ExpectGolden(text, "exporters/http_probe/testdata/ok.prom");
}

TEST_F(HttpProbeTest, RefusedConnectionFails) {
  const std::string url = Url(testing::RefusedPort());
  auto exporter = Make("check: web\nurl: " + url);
  const CollectResult result = CollectOnce(*exporter);
  EXPECT_EQ(result.reason, Reason::kConnectionRefused) << result.message;
  const std::string text = Text(result);
  EXPECT_EQ(Value(text, Series("probe_success", url)), 0);
  EXPECT_EQ(Value(text, Series("probe_http_status_code", url)), 0);
  EXPECT_EQ(Value(text, Series("probe_failure_info", url, ",reason=\"connection_refused\"")), 1);
  EXPECT_EQ(Value(text, Series("probe_failures_total", url, ",reason=\"connection_refused\"")), 1);
}

TEST_F(HttpProbeTest, ResponseRulesGiveTheirReasons) {
  struct Case {
    std::string response;
    std::string options;
    Reason reason;
    bool regex;
  };
  const std::vector<Case> cases = {
      {"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n", "", Reason::kStatusMismatch, false},
      {kOk, "valid_status_codes: [204]", Reason::kStatusMismatch, false},
      {kOk, "fail_if_body_not_matches_regexp: ['healthy']", Reason::kBodyMismatch, true},
      {kOk, "fail_if_body_matches_regexp: ['^ok$']", Reason::kBodyMismatch, true},
      {kOk, "fail_if_header_not_matches: [{header: X-Ready, regexp: yes}]", Reason::kHeaderMismatch,
       true},
      {kOk, "fail_if_header_matches: [{header: last-modified, regexp: '2026'}]",
       Reason::kHeaderMismatch, true},
      {kOk, "fail_if_not_ssl: true", Reason::kProtocolError, false},
      {kOk, "valid_http_versions: [HTTP/2.0]", Reason::kProtocolError, false},
      {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'),
       "body_size_limit: 10", Reason::kBodyTooLarge, false},
      {"HTP/1.1 abc\r\n\r\n", "", Reason::kProtocolError, false},
  };
  for (const Case& c : cases) {
    LoopbackServer server(handlers::HttpReply(c.response));
    const std::string url = Url(server.port());
    auto exporter = Make("check: web\nurl: " + url + "\n" + c.options);
    const CollectResult result = CollectOnce(*exporter);
    EXPECT_EQ(result.reason, c.reason) << c.options << ": " << result.message;
    EXPECT_EQ(Value(Text(result), Series("probe_failed_due_to_regex", url)), c.regex ? 1 : 0)
        << c.options;
  }
}

// A handler that answers by path: /loop redirects to itself, /a to /b, /b with 200.
LoopbackServer::Handler Router() {
  return [](int fd, LoopbackServer& server) {
    std::string line, request;
    while (server.ReadLine(fd, &line) && !line.empty()) {
      if (request.empty()) request = line;
    }
    server.Record(request);
    std::string response = kOk;
    if (request.find(" /loop ") != std::string::npos) {
      response = "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n";
    } else if (request.find(" /a ") != std::string::npos) {
      response = "HTTP/1.1 301 Moved\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n";
    }
    LoopbackServer::WriteAll(fd, response);
    shutdown(fd, SHUT_WR);
  };
}

TEST_F(HttpProbeTest, RedirectsAreFollowedOnTheSameAddressAndLoopsStop) {
  LoopbackServer server(Router());
  const std::string url = Url(server.port(), "/a");
  auto exporter = Make("check: web\nurl: " + url);
  CollectResult result = CollectOnce(*exporter);
  EXPECT_TRUE(result.success) << result.message;
  EXPECT_EQ(Value(Text(result), Series("probe_http_redirects", url)), 1);
  EXPECT_EQ(server.recorded(), (std::vector<std::string>{"GET /a HTTP/1.1", "GET /b HTTP/1.1"}));

  const std::string loop_url = Url(server.port(), "/loop");
  auto looping = Make("check: web\nurl: " + loop_url + "\nmax_redirects: 3");
  result = CollectOnce(*looping);
  EXPECT_EQ(result.reason, Reason::kRedirectLoop) << result.message;
  EXPECT_EQ(Value(Text(result), Series("probe_http_redirects", loop_url)), 4);

  auto not_following = Make("check: web\nurl: " + url + "\nfollow_redirects: false");
  result = CollectOnce(*not_following);
  EXPECT_EQ(result.reason, Reason::kStatusMismatch);
  EXPECT_EQ(Value(Text(result), Series("probe_http_status_code", url)), 301);
}

// Targets that hang mid-headers, mid-body or trickle time out by their deadline, while a
// healthy probe on the same loop finishes first.
TEST_F(HttpProbeTest, HangingTargetsTimeOutWithoutDelayingOthers) {
  const std::vector<std::string> stalls = {
      "HTTP/1.1 200 OK\r\nContent-",
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part of it",
  };
  for (const std::string& stall : stalls) {
    LoopbackServer hanging([stall](int fd, LoopbackServer& server) {
      std::string line;
      while (server.ReadLine(fd, &line) && !line.empty()) {
      }
      LoopbackServer::WriteAll(fd, stall);
      server.WaitReadable(fd);  // until the client gives up or the test ends
    });
    LoopbackServer healthy(handlers::HttpReply(kOk));
    auto slow = Make("check: web\nurl: " + Url(hanging.port()));
    auto fast = Make("check: web\nurl: " + Url(healthy.port()));
    const auto results = CollectAll({slow.get(), fast.get()}, std::chrono::milliseconds(800));
    EXPECT_EQ(results[0].first, 1u) << "the healthy probe finished first";
    EXPECT_TRUE(results[0].second.success);
    EXPECT_EQ(results[1].second.reason, Reason::kTimeout) << results[1].second.message;
  }
  LoopbackServer trickle(handlers::HttpTrickle(kOk, std::chrono::milliseconds(200)));
  auto exporter = Make("check: web\nurl: " + Url(trickle.port()));
  EXPECT_EQ(CollectOnce(*exporter, std::chrono::milliseconds(600)).reason, Reason::kTimeout);
}

TEST_F(HttpProbeTest, DnsFailureIsOneFailingSeriesWithoutAddress) {
  // A DNS server port where nothing listens: every query fails.
  auto exporter = Make("check: web\nurl: http://nothing.test/\ndns_servers: ['127.0.0.1:" +
                       std::to_string(testing::RefusedPort()) + "']");
  const CollectResult result = CollectOnce(*exporter, std::chrono::milliseconds(1500));
  EXPECT_EQ(result.reason, Reason::kDnsError) << result.message;
  const std::string text = Text(result);
  EXPECT_EQ(Value(text, "probe_success{check=\"web\",target=\"http://nothing.test/\"}"), 0);
  EXPECT_EQ(Value(text,
                  "probe_failures_total{check=\"web\",target=\"http://nothing.test/\","
                  "reason=\"dns_error\"}"),
            1);
}

class HttpsProbeTest : public HttpProbeTest {
 protected:
  CollectResult Probe(const testing::CertFiles& cert, const std::string& tls_options,
                      std::string* text) {
    testing::TlsServer server(cert.cert, cert.key, kOk);
    const std::string url = "https://127.0.0.1:" + std::to_string(server.port()) + "/";
    auto exporter = Make("check: web\nurl: " + url + "\ntls_config: {" + tls_options + "}");
    CollectResult result = CollectOnce(*exporter);
    *text = std::regex_replace(Text(result), std::regex(url), "URL");
    return result;
  }

  testing::TestPki pki_;
  std::string ca_ = "ca_file: " + pki_.ca_file();
};

TEST_F(HttpsProbeTest, TrustedCertificateReportsChainAndVersion) {
  testing::LeafOptions options;
  options.dns_names = {"web.test", "localhost"};
  const testing::CertFiles cert = pki_.Issue("web", options);
  std::string text;
  const CollectResult result = Probe(cert, ca_, &text);
  EXPECT_TRUE(result.success) << result.message;
  const std::string labels = "{check=\"web\",target=\"URL\",address=\"127.0.0.1\"}";
  EXPECT_EQ(Value(text, "probe_http_ssl" + labels), 1) << text;
  EXPECT_EQ(Value(text, "probe_ssl_earliest_cert_expiry" + labels), cert.not_after);
  EXPECT_TRUE(Value(text, "probe_ssl_last_chain_expiry_timestamp_seconds" + labels));
  EXPECT_NE(text.find("subjectalternative=\"web.test,localhost\""), std::string::npos) << text;
  EXPECT_NE(text.find("probe_tls_version_info{check=\"web\",target=\"URL\",address=\"127.0.0.1\","
                      "version=\"TLS 1.3\"} 1"),
            std::string::npos);
  EXPECT_GT(*Value(text,
                   "probe_http_duration_seconds{check=\"web\",target=\"URL\",address="
                   "\"127.0.0.1\",phase=\"tls\"}"),
            0);
}

TEST_F(HttpsProbeTest, BadCertificatesFailWithReasonAndStillReportExpiry) {
  testing::LeafOptions expired;
  expired.not_before = -std::chrono::hours(48);
  expired.not_after = -std::chrono::hours(24);
  testing::LeafOptions self_signed;
  self_signed.self_signed = true;
  testing::LeafOptions other_host;
  other_host.dns_names = {"other.test"};
  other_host.ip_addresses = {};
  struct Case {
    testing::CertFiles cert;
    Reason reason;
    bool chain_verified;  // the name is checked after the chain
  };
  const std::vector<Case> cases = {
      {pki_.Issue("expired", expired), Reason::kTlsExpired, false},
      {pki_.Issue("self", self_signed), Reason::kTlsUntrusted, false},
      {pki_.Issue("other", other_host), Reason::kTlsHostnameMismatch, true},
  };
  for (const Case& c : cases) {
    std::string text;
    const CollectResult result = Probe(c.cert, ca_, &text);
    EXPECT_EQ(result.reason, c.reason) << result.message;
    const std::string labels = "{check=\"web\",target=\"URL\",address=\"127.0.0.1\"}";
    EXPECT_EQ(Value(text, "probe_ssl_earliest_cert_expiry" + labels), c.cert.not_after) << text;
    EXPECT_EQ(Value(text, "probe_ssl_last_chain_expiry_timestamp_seconds" + labels).has_value(),
              c.chain_verified);
  }
  // insecure_skip_verify accepts them all, and still reports the expiry.
  std::string text;
  const CollectResult result = Probe(cases[0].cert, "insecure_skip_verify: true", &text);
  EXPECT_TRUE(result.success) << result.message;
  EXPECT_TRUE(Value(text,
                    "probe_ssl_earliest_cert_expiry{check=\"web\",target=\"URL\",address="
                    "\"127.0.0.1\"}"));
}

TEST_F(HttpProbeTest, PeerModeAnswersLikeBlackboxForOneAddress) {
  LoopbackServer server(handlers::HttpReply(kOk));
  auto exporter = Make("check: http_2xx\nurl: " + Url(server.port()), /*peer=*/true);
  const std::string text = Text(CollectOnce(*exporter));
  EXPECT_EQ(Value(text, "probe_success"), 1) << text;
  EXPECT_EQ(Value(text, "probe_http_status_code"), 200);
  EXPECT_EQ(text.find("check="), std::string::npos);
  EXPECT_EQ(text.find("probe_attempts_total"), std::string::npos);
  EXPECT_EQ(text.find("probe_sla_"), std::string::npos);
  EXPECT_EQ(text.find("probe_http_request_duration_seconds"), std::string::npos);
}

// Ten backends behind one name, 127.0.0.7 failing: exactly that address fails, and one SLA
// violation opens naming it, then closes when it recovers.
TEST_F(HttpProbeTest, EveryAddressIsProbedAndOneBadBackendOpensOneViolation) {
  if (!testing::Dnsmasq::Available()) {
    if (std::getenv("CI") != nullptr) FAIL() << "dnsmasq is not installed";
    GTEST_SKIP() << "dnsmasq is not installed";
  }
  std::atomic<bool> broken{true};
  auto backend = [&broken](bool may_break) {
    return [&broken, may_break](int fd, LoopbackServer& server) {
      std::string line;
      while (server.ReadLine(fd, &line) && !line.empty()) {
      }
      LoopbackServer::WriteAll(
          fd, may_break && broken ? "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n" : kOk);
      shutdown(fd, SHUT_WR);
    };
  };
  std::vector<std::unique_ptr<LoopbackServer>> servers;
  servers.push_back(std::make_unique<LoopbackServer>(backend(false)));
  const uint16_t port = servers[0]->port();
  std::string hosts = "127.0.0.1 web.test\n";
  for (int i = 2; i <= 10; ++i) {
    const std::string ip = "127.0.0." + std::to_string(i);
    servers.push_back(std::make_unique<LoopbackServer>(backend(i == 7), ip, port));
    hosts += ip + " web.test\n";
  }
  testing::Dnsmasq dns(hosts, "web.test");
  ASSERT_EQ(dns.error(), "");
  const std::string url = "http://web.test:" + std::to_string(port) + "/";
  auto exporter = Make("check: web\nurl: " + url + "\ndns_servers: ['" + dns.server() + "']");

  CollectResult result = CollectOnce(*exporter);
  std::string text = Text(result);
  for (int i = 1; i <= 10; ++i) {
    const std::string series = "probe_success{check=\"web\",target=\"" + url +
                               "\",address=\"127.0.0." + std::to_string(i) + "\"}";
    EXPECT_EQ(Value(text, series), i == 7 ? 0 : 1) << series;
  }
  EXPECT_EQ(result.reason, Reason::kStatusMismatch);
  const std::string labels = "{check=\"web\",target=\"" + url + "\"}";
  EXPECT_EQ(Value(text, "probe_sla_violation_open" + labels), 1);
  EXPECT_EQ(Value(text, "probe_sla_violations_total" + labels), 1);
  ASSERT_EQ(result.incidents.size(), 1u);
  EXPECT_NE(result.incidents[0].find("127.0.0.7: status_mismatch"), std::string::npos)
      << result.incidents[0];

  broken = false;
  result = CollectOnce(*exporter);
  text = Text(result);
  EXPECT_TRUE(result.success) << result.message;
  EXPECT_EQ(Value(text, "probe_sla_violation_open" + labels), 0);
  EXPECT_EQ(Value(text, "probe_sla_violations_total" + labels), 1);
  ASSERT_EQ(result.incidents.size(), 1u);
  EXPECT_EQ(result.incidents[0].rfind("failed ", 0), 0u) << result.incidents[0];

  auto once = Make("check: web\nurl: " + url + "\nper_address: false\ndns_servers: ['" +
                   dns.server() + "']");
  EXPECT_EQ(CollectOnce(*once).observations.size(), 1u);
}

TEST_F(HttpProbeTest, ConfigErrorsPointAtTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"check: a\nurl: ftp://x/", "the scheme must be http or https"},
      {"check: a\nurl: http://x/\nbody_size_limit: lots", "invalid size"},
      {"check: a\nurl: http://x/\nfail_if_body_matches_regexp: ['(']", "invalid regular"},
      {"check: a\nurl: http://x/\nmin_failures: 0", "min_failures must be at least 1"},
      {"check: a\nurl: http://x/\nvalid_status_codes: [999]", "invalid status code 999"},
      {"check: a\nurl: http://x/\nproxy_url: http://p/", "unknown key"},
  };
  for (const auto& [yaml, message] : cases) {
    auto document = config::Document::FromString(yaml, "test.yaml");
    ASSERT_TRUE(document.ok());
    auto spec = factory_->Parse(document->root(), config::ParseContext("test.yaml"));
    ASSERT_FALSE(spec.ok()) << yaml;
    EXPECT_NE(spec.status().message().find(message), std::string::npos) << spec.status().message();
    EXPECT_EQ(spec.status().message().rfind("test.yaml:", 0), 0u) << spec.status().message();
  }
}

}  // namespace
}  // namespace sre::exporters::http_probe
