#include "agent/alerting/alerting_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/config/source.h"

namespace sre::alerting {
namespace {

Result<AlertingConfig> Parse(const std::string& yaml, const std::string& base_dir = "/etc/sre") {
  auto document = config::Document::FromString(yaml, "agent.yaml");
  EXPECT_TRUE(document.ok()) << document.status().message();
  return ParseAlertingConfig(document->root(),
                             config::ParseContext("agent.yaml", config::ProcessEnv(), base_dir));
}

TEST(AlertingConfigTest, ReceiversRoutesAndSpool) {
  const std::string dir = testing::TempDir();
  const std::string key_file = dir + "/pagerduty-key";
  std::ofstream(key_file) << "0123456789abcdef0123456789abcdef\n";
  auto config = Parse(
      "receivers:\n"
      "  - {name: am, type: alertmanager, urls: [http://a:9093, http://b:9093]}\n"
      "  - {name: pager, type: pagerduty, routing_key_file: " +
      key_file +
      "}\n"
      "  - {name: chat, type: slack, url: https://hooks.slack.test/services/T/B/X, channel: ops}\n"
      "routes:\n"
      "  - {match: '{severity=\"critical\"}', receivers: [pager], continue: true}\n"
      "  - {receivers: [am, chat]}\n"
      "spool: {path: alerts.spool, max_bytes: 65536}\n"
      "external_labels: {node: n1}\n");
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_EQ(config->receivers.size(), 3u);
  EXPECT_EQ(config->FindReceiver("am")->urls.size(), 2u);
  EXPECT_EQ(config->FindReceiver("pager")->routing_key, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(config->FindReceiver("pager")->timeout, std::chrono::seconds(10));
  EXPECT_EQ(config->FindReceiver("nobody"), nullptr);
  ASSERT_EQ(config->routes.size(), 2u);
  EXPECT_TRUE(config->routes[0].continue_matching);
  EXPECT_TRUE(MatchesAll(config->routes[0].matchers, {{"severity", "critical"}}));
  EXPECT_FALSE(MatchesAll(config->routes[0].matchers, {{"severity", "warning"}}));
  EXPECT_TRUE(config->routes[1].matchers.empty());
  EXPECT_EQ(config->spool.path, "/etc/sre/alerts.spool");  // next to the config
  EXPECT_EQ(config->spool.max_bytes, 65536);
  EXPECT_EQ(config->resend_delay, std::chrono::minutes(1));
}

TEST(AlertingConfigTest, MistakesAreConfigErrorsAtTheirPlace) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"receivers:\n  - {name: a, type: email}\n", "type must be one of alertmanager, slack"},
      {"receivers:\n  - {name: a, type: alertmanager}\n", "a alertmanager receiver needs urls"},
      {"receivers:\n  - {name: a, type: alertmanager, urls: [x], channel: c}\n",
       "channel is not a key of a alertmanager receiver"},
      {"receivers:\n  - {name: a, type: slack}\n", "needs url or url_file"},
      {"receivers:\n  - {name: a, type: pagerduty}\n", "needs routing_key or routing_key_file"},
      {"receivers:\n  - {name: a, type: webhook, url: u}\n  - {name: a, type: webhook, url: v}\n",
       "agent.yaml:3:12: a second receiver named a"},
      {"receivers:\n  - {name: a, type: webhook, url: u}\nroutes:\n  - {receivers: [b]}\n",
       "agent.yaml:4:18: no receiver named b"},
      {"receivers:\n  - {name: a, type: webhook, url: u}\nroutes:\n"
       "  - match: '{severity=critical}'\n    receivers: [a]\n",
       "agent.yaml:4:23: expected a quoted label value"},
      {"spool: {max_bytes: 10}\n", "max_bytes must be at least 4096"},
      {"resend_delay: 0s\n", "resend_delay must be at least 1s"},
      {"receivers:\n  - {name: a, type: slack, url_file: /nonexistent/slack-url}\n",
       "/nonexistent/slack-url"},
  };
  for (const auto& [yaml, words] : cases) {
    const Status status = Parse(yaml).status();
    ASSERT_FALSE(status.ok()) << yaml;
    EXPECT_NE(status.message().find(words), std::string::npos) << status.message();
  }
}

}  // namespace
}  // namespace sre::alerting
