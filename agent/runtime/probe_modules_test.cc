#include "agent/runtime/probe_modules.h"

#include <gtest/gtest.h>

#include "agent/runtime/agent_config.h"
#include "tests/support/fake_exporter.h"
#include "tests/support/fake_prober.h"

namespace sre {
namespace {

class ProbeModulesTest : public ::testing::Test {
 protected:
  ProbeModulesTest() {
    registry_.Add(std::make_unique<testing::FakeFactory>());  // no probe support
    registry_.Add(std::make_unique<testing::FakeProberFactory>());
  }

  Result<AgentConfig> Parse(const std::string& yaml) {
    auto document = config::Document::FromString(yaml, "agent.yaml");
    if (!document.ok()) return document.status();
    const config::EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
      if (name == "SECRET") return "hunter2";
      if (name == "DELAY") return "5ms";
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

TEST_F(ProbeModulesTest, NoSectionMeansNoModulesAndNothingAllowed) {
  auto config = Parse("fake: []\n");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_TRUE(config->probe.modules.empty());
  EXPECT_TRUE(config->probe.allow.empty());
  EXPECT_FALSE(config->probe.allow.Allows("127.0.0.1:80"));
  EXPECT_TRUE(Parse("probe:\n").ok());
}

TEST_F(ProbeModulesTest, ParsesAllowlistAndModules) {
  auto config = Parse(
      "probe:\n"
      "  allow: [\"*.example.com\", 10.0.0.0/8, 127.0.0.1]\n"
      "  modules:\n"
      "    fake_ok:\n"
      "      prober: fake\n"
      "      timeout: 2s\n"
      "      fake: {delay: \"${DELAY}\"}\n"
      "    fake_bare: {prober: fake}\n");
  ASSERT_TRUE(config.ok()) << config.status().message();
  const ProbeConfig& probe = config->probe;
  EXPECT_EQ(probe.allow_patterns,
            (std::vector<std::string>{"*.example.com", "10.0.0.0/8", "127.0.0.1"}));
  EXPECT_TRUE(probe.allow.Allows("www.example.com:80"));
  EXPECT_TRUE(probe.allow.Allows("127.0.0.1:80"));
  ASSERT_EQ(probe.modules.size(), 2u);
  const ProbeModule* ok = probe.FindModule("fake_ok");
  ASSERT_NE(ok, nullptr);
  EXPECT_EQ(ok->prober, "fake");
  EXPECT_EQ(ok->factory->name(), "fake_probe");
  EXPECT_EQ(ok->timeout, std::chrono::seconds(2));
  EXPECT_EQ(probe.FindModule("fake_bare")->timeout, Duration::zero());
  EXPECT_EQ(probe.FindModule("nope"), nullptr);

  auto spec = ok->Instantiate("db.example.com:5432", std::chrono::milliseconds(1500));
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->exporter, "fake_probe");
  EXPECT_EQ(spec->target, "db.example.com:5432");
  EXPECT_EQ(spec->settings.check, "fake_ok");
  EXPECT_EQ(spec->settings.timeout, std::chrono::milliseconds(1500));
  const auto& options = *static_cast<const testing::FakeProber::Config*>(spec->config.get());
  EXPECT_EQ(options.delay, std::chrono::milliseconds(5));  // ${DELAY} expanded per request

  auto no_timeout = probe.FindModule("fake_bare")->Instantiate("a:1", Duration::zero());
  ASSERT_TRUE(no_timeout.ok()) << no_timeout.status().message();
  EXPECT_EQ(no_timeout->settings.timeout, Duration::zero());
}

TEST_F(ProbeModulesTest, RequestTargetsAreLiteralAndErrorsHaveNoPosition) {
  auto config = Parse("probe:\n  modules:\n    m: {prober: fake}\n");
  ASSERT_TRUE(config.ok()) << config.status().message();
  const ProbeModule& module = *config->probe.FindModule("m");
  // ${VAR} in a client's target must not read the agent's environment.
  auto spec = module.Instantiate("${SECRET}:1", Duration::zero());
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->target, "${SECRET}:1");
  auto bad = module.Instantiate("${SECRET}", Duration::zero());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "invalid target \"${SECRET}\": expected host:port");
}

TEST_F(ProbeModulesTest, ConfigErrorsPointAtTheirPlace) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"probe: []\n", "agent.yaml:1:8: expected a mapping with keys: allow, modules"},
      {"probe:\n  deny: []\n", "agent.yaml:2:3: unknown key \"deny\"; valid keys: allow, modules"},
      {"probe:\n  allow: 10.0.0.0/8\n", "agent.yaml:2:10: expected a list of host names"},
      {"probe:\n  allow: [ok.test, 10.0.0.1/8]\n",
       "agent.yaml:2:20: invalid allow pattern \"10.0.0.1/8\": address bits are set past the "
       "prefix; did you mean 10.0.0.0/8?"},
      {"probe:\n  modules: [a]\n", "agent.yaml:2:12: expected a mapping of module name to module"},
      {"probe:\n  modules:\n    m:\n",
       "agent.yaml:3:5: module \"m\": expected a mapping with `prober:` (fake) and the prober's "
       "options"},
      {"probe:\n  modules:\n    m: {timeout: 1s}\n",
       "agent.yaml:3:8: module \"m\": missing required key 'prober' (fake)"},
      {"probe:\n  modules:\n    m: {prober: icmp}\n",
       "agent.yaml:3:17: unknown prober \"icmp\"; known probers: fake"},
      {"probe:\n  modules:\n    m: {prober: fake, tcp: {}}\n",
       "agent.yaml:3:23: unknown key \"tcp\"; valid keys: prober, timeout, fake"},
      {"probe:\n  modules:\n    m: {prober: fake, timeout: soon}\n",
       "agent.yaml:3:32: expected a duration"},
      {"probe:\n  modules:\n    m: {prober: fake, timeout: 0s}\n",
       "agent.yaml:3:32: timeout must be positive"},
      {"probe:\n  modules:\n    m:\n      prober: fake\n      fake:\n        colour: red\n",
       "agent.yaml:6:9: unknown key \"colour\"; valid keys:"},
      {"probe:\n  modules:\n    m:\n      prober: fake\n      fake:\n        delay: soon\n",
       "agent.yaml:6:16: expected a duration"},
      {"probe:\n  modules:\n    m:\n      prober: fake\n      fake:\n        target: a:1\n",
       "agent.yaml:6:9: `target` cannot be set in a module: it comes from the request's `target` "
       "parameter"},
      {"probe:\n  modules:\n    m:\n      prober: fake\n      fake: {check: x}\n",
       "agent.yaml:5:14: `check` cannot be set in a module: /probe names the check after the "
       "module"},
      {"probe:\n  modules:\n    m:\n      prober: fake\n      fake: {timeout: 1s}\n",
       "agent.yaml:5:14: `timeout` cannot be set in a module: set `timeout` on the module"},
      {"probe:\n  modules:\n    m:\n      prober: fake\n      fake: {labels: {a: b}}\n",
       "agent.yaml:5:14: `labels` cannot be set in a module: it does not apply to /probe"},
      {"probe:\n  modules:\n    m:\n      prober: fake\n      fake: [1]\n",
       "agent.yaml:5:13: expected a mapping of fake options"},
      {"probe:\n  modules:\n    m: {prober: fake}\n    m: {prober: fake}\n",
       "agent.yaml:4:5: duplicate module \"m\""},
  };
  for (const auto& [yaml, expected] : cases) {
    const std::string error = Error(yaml);
    EXPECT_EQ(error.substr(0, expected.size()), expected) << yaml << "\n  got: " << error;
  }
}

TEST_F(ProbeModulesTest, DescribeListsTheProbers) {
  const std::string text = DescribeProbeSection(registry_);
  EXPECT_NE(text.find("probe:\n  allow: list of string"), std::string::npos) << text;
  EXPECT_NE(text.find("prober: string, required"), std::string::npos) << text;
  EXPECT_NE(text.find("fake: mapping"), std::string::npos) << text;
  EXPECT_NE(text.find("--describe fake_probe"), std::string::npos) << text;
}

}  // namespace
}  // namespace sre
