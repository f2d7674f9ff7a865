// /probe through the real HTTP server and agent, with a fake prober (the tcp exporter's own /probe
// tests live in exporters/tcp/tcp_probe_test.cc: agent/ never includes exporters/).
#include "agent/server/probe_endpoint.h"

#include <curl/curl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "agent/server/agent_endpoints.h"
#include "agent/server/http_test_client.h"
#include "tests/support/fake_prober.h"
#include "tests/support/test_pki.h"

namespace sre::server {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

Reply Get(const std::string& url, const std::vector<std::string>& headers = {}) {
  // A /probe waits for its module's timeout (5 s for "five"): more room than Fetch's default.
  return Fetch(url, {.headers = headers, .timeout = 20s});
}

/// The value of the unlabelled sample `name` in a text-format body; NaN when absent.
double Sample(const std::string& body, const std::string& name) {
  const size_t at = body.find("\n" + name + " ");
  if (at == std::string::npos) return std::nan("");
  return std::stod(body.substr(at + name.size() + 2));
}

constexpr char kConfig[] =
    "probe:\n"
    "  allow: [127.0.0.1, \"*.example.com\"]\n"
    "  modules:\n"
    "    http_2xx: {prober: fake}\n"
    "    five: {prober: fake, timeout: 5s}\n"
    "    failing: {prober: fake, fake: {succeed: false}}\n"
    "    slow: {prober: fake, timeout: 10s, fake: {delay: 300ms}}\n"
    "    hang: {prober: fake, fake: {hang: true}}\n";

class ProbeEndpointTest : public ::testing::Test {
 protected:
  ProbeEndpointTest() {
    auto factory = std::make_unique<testing::FakeProberFactory>();
    counters_ = factory->counters;
    registry_.Add(std::move(factory));
    config_file_ = dir_.WriteFile("agent.yaml", kConfig);
    agent_ = std::make_unique<Agent>(registry_, log_, clock_, AgentOptions{config_file_, "v", "r"});
    Status started = agent_->Start();
    EXPECT_TRUE(started.ok()) << started.message();
    HttpServerOptions options;
    options.listen_addresses = {"127.0.0.1:0"};
    Routes routes = AgentRoutes(*agent_, clock_, {});
    auto server = HttpServer::Start(options, std::move(routes.sync), std::move(routes.async));
    EXPECT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(server).value();
  }
  ~ProbeEndpointTest() override {
    server_.reset();
    agent_->Stop();
  }

  std::string Url(const std::string& path_and_query) const {
    return "http://" + server_->bound_addresses()[0] + path_and_query;
  }

  testing::TempDir dir_;
  std::string config_file_;
  ExporterRegistry registry_;
  std::shared_ptr<testing::FakeProber::Counters> counters_;
  SystemClock clock_;
  Logger log_{LogLevel::kError, LogFormat::kLogfmt, stderr, clock_};
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(ProbeEndpointTest, AnswersWithTheFamiliesInTextFormat) {
  Reply reply = Get(Url("/probe?module=five&target=127.0.0.1:9"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(reply.body, HasSubstr("# TYPE probe_success gauge\nprobe_success 1\n"));
  EXPECT_EQ(Sample(reply.body, "fake_peer_compatible"), 1);
  // The fake exporter has no probe_duration_seconds: the handler adds it, as blackbox does.
  EXPECT_THAT(reply.body, HasSubstr("# TYPE probe_duration_seconds gauge\n"));
  EXPECT_GE(Sample(reply.body, "probe_duration_seconds"), 0);

  Reply failed = Get(Url("/probe?module=failing&target=www.example.com:80"));
  ASSERT_EQ(failed.status, 200) << failed.body;
  EXPECT_EQ(Sample(failed.body, "probe_success"), 0);
  EXPECT_EQ(counters_->created.load(), 2);
}

TEST_F(ProbeEndpointTest, ModuleDefaultsToHttp2xx) {
  Reply reply = Get(Url("/probe?target=127.0.0.1:9"));
  EXPECT_EQ(reply.status, 200) << reply.body;
}

TEST_F(ProbeEndpointTest, BadRequestsAreAnsweredLikeBlackbox) {
  Reply unknown = Get(Url("/probe?module=nope&target=127.0.0.1:9"));
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.body, "Unknown module \"nope\"\n");
  // Unknown module is checked before the target, as blackbox_exporter does.
  EXPECT_EQ(Get(Url("/probe?module=nope")).body, "Unknown module \"nope\"\n");
  Reply missing = Get(Url("/probe?module=five"));
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.body, "Target parameter is missing\n");
  EXPECT_EQ(Get(Url("/probe?module=five&target=")).body, "Target parameter is missing\n");
  // A target the exporter's schema rejects: its own message, without a file position.
  Reply rejected = Get(Url("/probe?module=five&target=127.0.0.1"));
  EXPECT_EQ(rejected.status, 400);
  EXPECT_EQ(rejected.body, "invalid target \"127.0.0.1\": expected host:port\n");
  EXPECT_EQ(counters_->created.load(), 0);
}

TEST_F(ProbeEndpointTest, TargetsOutsideTheAllowlistAre403) {
  for (const char* target :
       {"10.0.0.1:80", "example.com:80", "localhost:9", "http://www.example.com@10.0.0.1/"}) {
    Reply reply = Get(Url(std::string("/probe?module=five&target=") + target));
    EXPECT_EQ(reply.status, 403) << target;
    EXPECT_THAT(reply.body, HasSubstr("is not allowed: add \"")) << reply.body;
    EXPECT_THAT(reply.body, HasSubstr("to probe.allow")) << reply.body;
  }
  Reply no_host = Get(Url("/probe?module=five&target=%2Fetc%2Fpasswd"));
  EXPECT_EQ(no_host.status, 403);
  EXPECT_THAT(no_host.body, HasSubstr("names no host"));
  EXPECT_EQ(counters_->created.load(), 0);
}

TEST_F(ProbeEndpointTest, TimeoutComesFromTheHeaderAndTheModule) {
  auto budget = [&](const std::string& module, const std::vector<std::string>& headers) {
    Reply reply = Get(Url("/probe?module=" + module + "&target=127.0.0.1:9"), headers);
    EXPECT_EQ(reply.status, 200) << reply.body;
    return Sample(reply.body, "fake_budget_seconds");
  };
  // Header minus the 0.5s offset, when shorter than the module's timeout.
  EXPECT_NEAR(budget("five", {"X-Prometheus-Scrape-Timeout-Seconds: 2"}), 1.5, 0.25);
  // The module's timeout when it is shorter.
  EXPECT_NEAR(budget("five", {"X-Prometheus-Scrape-Timeout-Seconds: 10"}), 5, 0.25);
  EXPECT_NEAR(budget("five", {}), 5, 0.25);
  // Neither: 120s minus the offset.
  EXPECT_NEAR(budget("http_2xx", {}), 119.5, 0.25);
  Reply bad = Get(Url("/probe?module=five&target=127.0.0.1:9"),
                  {"X-Prometheus-Scrape-Timeout-Seconds: soon"});
  EXPECT_EQ(bad.status, 500);
  EXPECT_EQ(
      bad.body,
      "Failed to parse timeout from Prometheus header: \"soon\" is not a number of seconds\n");
}

TEST_F(ProbeEndpointTest, DebugShowsTheResultMetricsAndModule) {
  Reply reply = Get(Url("/probe?module=failing&target=127.0.0.1:9&debug=true"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_THAT(reply.body,
              HasSubstr("Probe of \"127.0.0.1:9\" with module \"failing\" (prober "
                        "fake, timeout 119.5s): failure (connection_refused: refused)"));
  EXPECT_THAT(reply.body, HasSubstr("Metrics that would have been returned:\n# HELP"));
  EXPECT_THAT(reply.body,
              HasSubstr("Module configuration:\nprober: fake\nfake:\n  {succeed: false}\n"));
}

TEST_F(ProbeEndpointTest, ASlowProbeDoesNotHoldUpOtherEndpoints) {
  auto slow = std::async(std::launch::async,
                         [&] { return Get(Url("/probe?module=slow&target=127.0.0.1:9")); });
  // Wait until the probe runs (its request is then suspended on the server's only thread).
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (counters_->created.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_EQ(counters_->created.load(), 1);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Get(Url("/metrics")).status, 200);
  EXPECT_EQ(Get(Url("/-/healthy")).status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 250ms);
  EXPECT_EQ(slow.wait_for(0s), std::future_status::timeout);  // still probing
  Reply reply = slow.get();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(Sample(reply.body, "probe_success"), 1);
}

TEST_F(ProbeEndpointTest, StoppingTheAgentAnswersProbesInFlight) {
  auto hung = std::async(std::launch::async,
                         [&] { return Get(Url("/probe?module=hang&target=127.0.0.1:9")); });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (counters_->created.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_EQ(counters_->created.load(), 1);
  agent_->Stop();
  Reply reply = hung.get();
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.body, "Cannot run the probe: sre-agent is stopping\n");
  EXPECT_EQ(counters_->destroyed.load(), 1);
  EXPECT_EQ(Get(Url("/probe?module=five&target=127.0.0.1:9")).status, 503);
}

TEST_F(ProbeEndpointTest, OnlyGetAndHead) {
  Reply reply = Fetch(Url("/probe?module=five&target=127.0.0.1:9"), {.method = "POST", .body = ""});
  ASSERT_EQ(reply.code, CURLE_OK);
  EXPECT_EQ(reply.status, 405);
}

TEST(ProbeTimeoutTest, FollowsBlackboxGetTimeout) {
  using std::chrono::seconds;
  const std::string two = "2", zero = "0", tiny = "0.3", big = "30", plus = "+4", bad = "1s",
                    inf = "inf";
  auto at = [](const std::string* header, Duration module) {
    auto seconds = ProbeTimeoutSeconds(header, module, 0.5);
    EXPECT_TRUE(seconds.ok()) << seconds.status().message();
    return seconds.ok() ? *seconds : -1;
  };
  EXPECT_DOUBLE_EQ(at(nullptr, Duration::zero()), 119.5);
  EXPECT_DOUBLE_EQ(at(&zero, Duration::zero()), 119.5);  // 0 means "not given"
  EXPECT_DOUBLE_EQ(at(nullptr, seconds(5)), 5);
  EXPECT_DOUBLE_EQ(at(&two, Duration::zero()), 1.5);
  EXPECT_DOUBLE_EQ(at(&two, seconds(5)), 1.5);
  EXPECT_DOUBLE_EQ(at(&big, seconds(5)), 5);
  EXPECT_DOUBLE_EQ(at(&plus, Duration::zero()), 3.5);
  // The header minus the offset is negative: the module's timeout, even 0 (due at once).
  EXPECT_DOUBLE_EQ(at(&tiny, seconds(5)), 5);
  EXPECT_DOUBLE_EQ(at(&tiny, Duration::zero()), 0);
  EXPECT_FALSE(ProbeTimeoutSeconds(&bad, Duration::zero(), 0.5).ok());
  EXPECT_FALSE(ProbeTimeoutSeconds(&inf, Duration::zero(), 0.5).ok());
}

}  // namespace
}  // namespace sre::server
