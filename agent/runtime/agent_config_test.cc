#include "agent/runtime/agent_config.h"

#include <gtest/gtest.h>

#include "tests/support/fake_exporter.h"

namespace sre {
namespace {

class AgentConfigTest : public ::testing::Test {
 protected:
  AgentConfigTest() { registry_.Add(std::make_unique<testing::FakeFactory>()); }

  Result<AgentConfig> Parse(const std::string& yaml) {
    auto document = config::Document::FromString(yaml, "agent.yaml");
    if (!document.ok()) return document.status();
    const config::EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
      if (name == "FAKE_TARGET") return "from-env:9";
      return std::nullopt;
    };
    return ParseAgentConfig(*document, registry_, env);
  }

  std::string Error(const std::string& yaml) {
    auto config = Parse(yaml);
    EXPECT_FALSE(config.ok());
    return config.ok() ? "" : config.status().message();
  }

  ExporterRegistry registry_;
};

TEST_F(AgentConfigTest, FillsIntervalsAndTimeoutsFromTheAgentSection) {
  auto config = Parse(
      "fake:\n"
      "  - check: a\n"
      "  - check: b\n"
      "    interval: 1s\n"
      "  - check: c\n"
      "    interval: 1s\n"
      "    timeout: 300ms\n"
      "    target: ${FAKE_TARGET}\n"
      "agent:\n"
      "  interval: 30s\n"
      "  timeout: 5s\n");
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_EQ(config->instances.size(), 3u);
  using std::chrono::milliseconds;
  EXPECT_EQ(config->instances[0].settings.interval, std::chrono::seconds(30));
  EXPECT_EQ(config->instances[0].settings.timeout, std::chrono::seconds(5));
  EXPECT_EQ(config->instances[1].settings.timeout, milliseconds(800));  // 4/5 of the interval
  EXPECT_EQ(config->instances[2].settings.timeout, milliseconds(300));
  EXPECT_EQ(config->instances[2].target, "from-env:9");
}

TEST_F(AgentConfigTest, InheritedDefaultsArePartOfTheFingerprint) {
  // A reload that only changes `agent:` must restart the checks that inherit from it.
  auto slow = Parse("agent: {interval: 5s}\nfake:\n  - check: a\n  - check: b\n    interval: 1s\n");
  auto fast = Parse("agent: {interval: 1s}\nfake:\n  - check: a\n  - check: b\n    interval: 1s\n");
  ASSERT_TRUE(slow.ok() && fast.ok());
  EXPECT_NE(slow->instances[0].fingerprint, fast->instances[0].fingerprint);
  EXPECT_EQ(slow->instances[1].fingerprint, fast->instances[1].fingerprint);
}

TEST_F(AgentConfigTest, EmptyFileIsValid) {
  auto config = Parse("");
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config->instances.empty());
}

TEST_F(AgentConfigTest, UnknownSectionListsTheValidOnes) {
  EXPECT_EQ(Error("fake: []\nphp: []\n"),
            "agent.yaml:2:1: unknown key \"php\"; valid keys: agent, probe, alerting, kubernetes, "
            "discovery, sharding, fake");
}

TEST_F(AgentConfigTest, ShardingAndDiscoverySections) {
  auto config = Parse(
      "discovery: {node_name: node-a}\n"
      "fake:\n  - check: a\n    replicas: 2\n"
      "sharding:\n  self: http://a:1\n  peers: [http://a:1, http://b:1]\n");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->discovery.pods.node_name, "node-a");
  EXPECT_EQ(config->discovery.sharding.peers.size(), 2u);
  EXPECT_EQ(config->instances.at(0).settings.replicas, 2);
  // Checks come before sharding in the file, yet replicas is checked against it.
  EXPECT_EQ(Error("fake:\n  - check: a\n    replicas: 2\n"),
            "agent.yaml:3:15: replicas needs a sharding: section (which agents share the probes)");
  EXPECT_EQ(Error("fake:\n  - check: a\n    replicas: -1\n"),
            "agent.yaml:3:15: replicas must be 0 (every agent) or more");
  EXPECT_EQ(Error("sharding:\n  self: x\n  peers: [y]\n"),
            "agent.yaml:2:3: self (\"x\") must be one of peers");
  EXPECT_EQ(Error("sharding:\n  self: x\n  peers: [x]\n  label_selector: app=a\n"),
            "agent.yaml:2:3: set either label_selector (members from Kubernetes) or peers (a "
            "static list)");
  EXPECT_EQ(Error("sharding:\n  self: x\n  label_selector: app=a\n"),
            "agent.yaml:2:3: label_selector needs namespace: the DaemonSet's (${POD_NAMESPACE})");
}

TEST_F(AgentConfigTest, TimeoutMustBeBelowTheInterval) {
  EXPECT_EQ(Error("fake:\n  - check: a\n    interval: 1s\n    timeout: 1s\n"),
            "agent.yaml:4:14: timeout (1s) must be shorter than the interval (1s)");
}

TEST_F(AgentConfigTest, DuplicateCheckNamesAreRejected) {
  EXPECT_EQ(Error("fake:\n  - check: a\n  - check: a\n"),
            "agent.yaml:3:5: duplicate check name \"a\" (first at line 2)");
}

TEST_F(AgentConfigTest, ReservedLabelsAreRejected) {
  EXPECT_EQ(Error("fake:\n  - check: a\n    labels: {instance: x}\n"),
            "agent.yaml:3:13: label \"instance\" is set by Prometheus itself; use another name "
            "(e.g. k8s_instance)");
}

TEST_F(AgentConfigTest, SectionMustBeAList) {
  EXPECT_EQ(Error("fake:\n  check: a\n"), "agent.yaml:2:3: expected a list of fake checks");
}

TEST_F(AgentConfigTest, MissingFileSaysSo) {
  auto config = LoadAgentConfig("/nonexistent/agent.yaml", registry_);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("/nonexistent/agent.yaml"), std::string::npos);
}

}  // namespace
}  // namespace sre
