// Agent::Probe and the `probe:` section across start, reload and stop.
#include <gtest/gtest.h>

#include <future>

#include "agent/runtime/agent.h"
#include "agent/runtime/snapshot_store.h"
#include "tests/support/fake_prober.h"
#include "tests/support/test_pki.h"

namespace sre {
namespace {

using namespace std::chrono_literals;

constexpr char kConfig[] =
    "probe:\n"
    "  allow: [127.0.0.1]\n"
    "  modules:\n"
    "    quick: {prober: fake, fake: {delay: 1ms}}\n"
    "    hang: {prober: fake, fake: {hang: true}}\n";

class AgentProbeTest : public ::testing::Test {
 protected:
  AgentProbeTest() {
    auto factory = std::make_unique<testing::FakeProberFactory>();
    counters_ = factory->counters;
    registry_.Add(std::move(factory));
    config_file_ = dir_.WriteFile("agent.yaml", kConfig);
  }

  /// The module's instance for 127.0.0.1:1, from the config file as it is now.
  InstanceSpec Spec(const std::string& module) {
    auto config = LoadAgentConfig(config_file_, registry_);
    EXPECT_TRUE(config.ok()) << config.status().message();
    const ProbeModule* found = config->probe.FindModule(module);
    EXPECT_NE(found, nullptr) << module;
    if (found == nullptr) return {};
    auto spec = found->Instantiate("127.0.0.1:1", Duration::zero());
    EXPECT_TRUE(spec.ok()) << spec.status().message();
    return std::move(spec).value();
  }

  /// Starts a probe; the future holds what `done` got.
  std::future<Result<CollectResult>> StartProbe(Agent& agent, InstanceSpec spec, Duration timeout) {
    auto promise = std::make_shared<std::promise<Result<CollectResult>>>();
    auto future = promise->get_future();
    agent.Probe(std::move(spec), timeout,
                [promise](Result<CollectResult> result) { promise->set_value(std::move(result)); });
    return future;
  }

  static std::string Text(const CollectResult& result) {
    return MergeExposition({MakeSnapshot({}, result.families)}, ExpositionFormat::kText004);
  }

  testing::TempDir dir_;
  std::string config_file_;
  ExporterRegistry registry_;
  std::shared_ptr<testing::FakeProber::Counters> counters_;
  SystemClock clock_;
  Logger log_{LogLevel::kError, LogFormat::kLogfmt, stderr, clock_};
};

TEST_F(AgentProbeTest, RunsOnceInPeerModeWithTheDeadlineAndDestroysTheExporter) {
  Agent agent(registry_, log_, clock_, {config_file_, "v", "r"});
  ASSERT_TRUE(agent.Start().ok());
  auto future = StartProbe(agent, Spec("quick"), 3s);
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  Result<CollectResult> result = future.get();
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_TRUE(result->success);
  const std::string text = Text(*result);
  EXPECT_NE(text.find("fake_peer_compatible 1\n"), std::string::npos) << text;
  const size_t budget = text.find("\nfake_budget_seconds ");
  ASSERT_NE(budget, std::string::npos);
  const double seconds = std::stod(text.substr(budget + 21));
  EXPECT_GT(seconds, 2.0);
  EXPECT_LE(seconds, 3.0);
  agent.Stop();  // joins the loop, which has dropped the exporter by then
  EXPECT_EQ(counters_->created.load(), 1);
  EXPECT_EQ(counters_->destroyed.load(), 1);
}

TEST_F(AgentProbeTest, AnExporterThatOverrunsItsDeadlineIsCancelledAsATimeout) {
  Agent agent(registry_, log_, clock_, {config_file_, "v", "r"});
  ASSERT_TRUE(agent.Start().ok());
  const auto start = std::chrono::steady_clock::now();
  auto future = StartProbe(agent, Spec("hang"), 10ms);
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1s);  // deadline + the agent's grace
  Result<CollectResult> result = future.get();
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_FALSE(result->success);
  EXPECT_EQ(result->reason, Reason::kTimeout);
  EXPECT_EQ(counters_->cancelled.load(), 1);
  EXPECT_EQ(counters_->destroyed.load(), 1);
}

TEST_F(AgentProbeTest, StopAnswersRunningProbesAndLaterOnesAtOnce) {
  Agent agent(registry_, log_, clock_, {config_file_, "v", "r"});
  auto before = StartProbe(agent, Spec("quick"), 1s);
  ASSERT_EQ(before.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(before.get().status().message(), "sre-agent is not running");

  ASSERT_TRUE(agent.Start().ok());
  auto running = StartProbe(agent, Spec("hang"), 60s);
  agent.Stop();
  ASSERT_EQ(running.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(running.get().status().message(), "sre-agent is stopping");
  EXPECT_EQ(counters_->created.load(), counters_->destroyed.load());

  auto after = StartProbe(agent, Spec("quick"), 1s);
  ASSERT_EQ(after.wait_for(0s), std::future_status::ready);
  EXPECT_FALSE(after.get().ok());
}

TEST_F(AgentProbeTest, UnknownExporterIsAnError) {
  Agent agent(registry_, log_, clock_, {config_file_, "v", "r"});
  ASSERT_TRUE(agent.Start().ok());
  InstanceSpec spec = Spec("quick");
  spec.exporter = "gone";
  auto future = StartProbe(agent, std::move(spec), 1s);
  ASSERT_EQ(future.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(future.get().status().message(), "unknown exporter \"gone\"");
}

TEST_F(AgentProbeTest, ReloadSwapsModulesAndAllowlistAndABadOneKeepsThem) {
  Agent agent(registry_, log_, clock_, {config_file_, "v", "r"});
  ASSERT_TRUE(agent.Start().ok());
  auto first = agent.probe_config();
  EXPECT_TRUE(first->allow.Allows("127.0.0.1:1"));
  ASSERT_NE(first->FindModule("quick"), nullptr);

  dir_.WriteFile("agent.yaml",
                 "probe:\n  allow: [\"*.example.com\"]\n  modules:\n"
                 "    other: {prober: fake}\n");
  ASSERT_TRUE(agent.Reload().ok());
  auto second = agent.probe_config();
  EXPECT_FALSE(second->allow.Allows("127.0.0.1:1"));
  EXPECT_TRUE(second->allow.Allows("www.example.com:1"));
  EXPECT_EQ(second->FindModule("quick"), nullptr);
  EXPECT_NE(second->FindModule("other"), nullptr);
  // The old config stays valid for requests that still hold it.
  EXPECT_NE(first->FindModule("quick"), nullptr);

  dir_.WriteFile("agent.yaml", "probe:\n  modules:\n    broken: {prober: nope}\n");
  Status rejected = agent.Reload();
  EXPECT_EQ(rejected.message().substr(rejected.message().find("agent.yaml:")),
            "agent.yaml:3:22: unknown prober \"nope\"; known probers: fake");
  EXPECT_EQ(agent.probe_config(), second);
}

}  // namespace
}  // namespace sre
