#include "exporters/fluentd/fluentd_exporter.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "exporters/fluentd/fake_monitor_agent.h"
#include "exporters/fluentd/fluentd_cli.h"
#include "tests/support/exporter_harness.h"
#include "tests/support/loopback_servers.h"

namespace sre::exporters::fluentd {
namespace {

using fake::HttpResponse;
using fake::Testdata;
using testing::LoopbackServer;
namespace handlers = testing::handlers;

class FluentdExporterTest : public ::testing::Test, protected testing::ExporterHarness {
 protected:
  FluentdExporterTest() : ExporterHarness(MakeFluentdFactory()) {}

  static std::string Url(uint16_t port) { return "http://127.0.0.1:" + std::to_string(port); }

  std::unique_ptr<Exporter> MakeFor(const std::vector<std::string>& urls,
                                    const std::string& more = "") {
    std::string yaml = "check: fluentd\nurls:\n";
    for (const std::string& url : urls) yaml += "  - \"" + url + "\"\n";
    return Make(yaml + more);
  }

  // Three workers on consecutive ports: idle, retrying (the documented example) and busy.
  void StartWorkers() {
    workers_ = fake::ServersOnConsecutivePorts({HttpResponse(Testdata("plugins_idle.json")),
                                                HttpResponse(Testdata("plugins_retrying.json")),
                                                HttpResponse(Testdata("plugins_worker2.json"))});
    ASSERT_EQ(workers_.size(), 3u);
  }

  Status ParseError(const std::string& yaml) {
    auto document = config::Document::FromString(yaml, "fluentd.yaml");
    EXPECT_TRUE(document.ok());
    return factory_->Parse(document->root(), config::ParseContext("fluentd.yaml")).status();
  }

  std::vector<std::unique_ptr<LoopbackServer>> workers_;
};

// Three workers of one Fluentd (`workers 3`, monitor_agent on 24220..24222) against
// testdata/workers.prom, with the ports written as 24220.. and durations masked.
// SRE_UPDATE_GOLDEN=1 rewrites the file.
TEST_F(FluentdExporterTest, ThreeWorkersMatchGoldenFile) {
  StartWorkers();
  const uint16_t base = workers_[0]->port();
  auto exporter = MakeFor({Url(base)}, "workers: 3\n");
  const CollectResult result = CollectOnce(*exporter);
  EXPECT_TRUE(result.success) << result.message;
  EXPECT_EQ(result.message, "3 of 3 monitor_agents up, 3 plugins reported, 1 retrying");
  ASSERT_EQ(result.observations.size(), 6u);
  EXPECT_EQ(result.observations[0].subject, "worker0");
  EXPECT_EQ(result.observations[0].message, "3 plugins, 1 reported");
  EXPECT_EQ(result.observations[3].subject, "worker1/out_es");
  EXPECT_EQ(result.observations[3].message,
            "queue 1 (117 B), stage 0 (0 B), 99.9% free, retrying: step 3, next 2025-05-29 "
            "16:05:52 +0900");
  EXPECT_EQ(result.observations[3].figures.at("retry_count"), 4);

  std::string text = Text(result);
  for (int i = 0; i < 3; ++i) {
    text = std::regex_replace(text, std::regex(":" + std::to_string(base + i) + "\""),
                              ":" + std::to_string(24220 + i) + "\"");
  }
  ExpectGolden(MaskValues(text, "fluentd_scrape_duration_seconds"),
               "exporters/fluentd/testdata/workers.prom");
}

// Every family the issue names, as fluent-plugin-prometheus names it, with the labels
// plugin_id, type and check (and worker, since these are workers).
TEST_F(FluentdExporterTest, EveryMetricNameOfTheIssueWithItsLabels) {
  const std::vector<std::string> plugin_families = {
      "fluentd_output_status_buffer_queue_length",
      "fluentd_output_status_buffer_total_bytes",
      "fluentd_output_status_buffer_stage_length",
      "fluentd_output_status_buffer_stage_byte_size",
      "fluentd_output_status_buffer_queue_byte_size",
      "fluentd_output_status_buffer_available_space_ratio",
      "fluentd_output_status_retry_count",
      "fluentd_output_status_num_errors",
      "fluentd_output_status_emit_count",
      "fluentd_output_status_emit_records",
      "fluentd_output_status_write_count",
      "fluentd_output_status_rollback_count",
      "fluentd_output_status_flush_time_count",
      "fluentd_output_status_slow_flush_count",
      "fluentd_output_status_drop_oldest_chunk_count",
      "fluentd_output_status_retry_wait",
  };
  StartWorkers();
  auto exporter = MakeFor({Url(workers_[0]->port())}, "workers: 3\n");
  const auto families = LabelNames(Text(CollectOnce(*exporter)));
  for (const std::string& name : plugin_families) {
    ASSERT_TRUE(families.contains(name)) << name << " is missing";
    for (const auto& labels : families.at(name)) {
      for (const char* label : {"plugin_id", "type", "check", "worker"}) {
        EXPECT_TRUE(labels.contains(label)) << name << " has no label " << label;
      }
    }
  }
  ASSERT_TRUE(families.contains("fluentd_up"));
  EXPECT_EQ(families.at("fluentd_up").size(), 3u);
  for (const auto& labels : families.at("fluentd_up")) {
    EXPECT_EQ(labels, (std::set<std::string>{"check", "target", "worker"}));
  }
}

// Each fault fails its own endpoint only, with its reason; the healthy one is up.
TEST_F(FluentdExporterTest, FaultsFailOnlyTheirEndpoint) {
  const std::string good = Testdata("plugins_retrying.json");
  const std::string html =
      "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>";
  std::string wrong_type = good;
  wrong_type.replace(wrong_type.find("\"retry_count\":4"), 15, "\"retry_count\":\"4\"");
  const std::string chunk(64 << 10, ' ');
  constexpr size_t k50MB = 50 << 20;
  // A 50 MB body announced by Content-Length, and one streamed until the client hangs up.
  auto huge = [&chunk](bool announce) {
    return [&chunk, announce](int fd, LoopbackServer& server) {
      std::string line;
      while (server.ReadLine(fd, &line) && !line.empty()) {
      }
      std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n";
      head += announce ? "Content-Length: " + std::to_string(k50MB) + "\r\n\r\n"
                       : "Connection: close\r\n\r\n";
      if (!LoopbackServer::WriteAll(fd, head + "{\"plugins\":[")) return;
      for (size_t sent = 0; sent < k50MB; sent += chunk.size()) {
        if (!LoopbackServer::WriteAll(fd, chunk)) return;
      }
    };
  };

  LoopbackServer ok(handlers::HttpReply(HttpResponse(good)));
  LoopbackServer not_found(
      handlers::HttpReply(HttpResponse("<HTML><HEAD><TITLE>Not Found</TITLE></HEAD></HTML>",
                                       "404 Not Found", "text/html; charset=ISO-8859-1")));
  LoopbackServer html_ok(handlers::HttpReply(HttpResponse(html, "200 OK", "text/html")));
  LoopbackServer html_error(
      handlers::HttpReply(HttpResponse(html, "500 Internal Server Error", "text/html")));
  LoopbackServer truncated(handlers::HttpReply(HttpResponse(good.substr(0, good.size() / 2))));
  LoopbackServer cut_short(handlers::HttpReply(
      HttpResponse(good).substr(0, HttpResponse(good).size() - good.size() / 2)));
  LoopbackServer deep(handlers::HttpReply(HttpResponse(
      "{\"deep\":" + std::string(100000, '[') + std::string(100000, ']') + ",\"plugins\":[]}")));
  LoopbackServer announced(huge(true));
  LoopbackServer streamed(huge(false));
  LoopbackServer mistyped(handlers::HttpReply(HttpResponse(wrong_type)));
  LoopbackServer silent(handlers::Silent());
  const uint16_t refused = testing::RefusedPort();

  struct Expect {
    std::string url;
    Reason reason;
    std::string words;  // in the observation's message
  };
  const std::vector<Expect> faults = {
      {Url(refused), Reason::kConnectionRefused, ""},
      {Url(not_found.port()), Reason::kStatusMismatch, "HTTP 404: no monitor_agent"},
      {Url(html_ok.port()), Reason::kProtocolError, "it starts with \"<!DOCTYPE html>"},
      {Url(html_error.port()), Reason::kStatusMismatch, "HTTP 500"},
      {Url(truncated.port()), Reason::kProtocolError, "ends early (truncated?)"},
      {Url(cut_short.port()), Reason::kReadError, ""},
      {Url(deep.port()), Reason::kProtocolError, "nested deeper than 32 levels"},
      {Url(announced.port()), Reason::kBodyTooLarge, ""},
      {Url(streamed.port()), Reason::kBodyTooLarge, "larger than 8388608 bytes"},
      {Url(mistyped.port()), Reason::kProtocolError,
       "plugins[2] (out_es): \"retry_count\" should be a number or null, got a string"},
      {Url(silent.port()), Reason::kTimeout, ""},
  };
  std::vector<std::string> urls = {Url(ok.port())};
  for (const Expect& f : faults) urls.push_back(f.url);
  auto exporter = MakeFor(urls);
  const CollectResult result = CollectOnce(*exporter, std::chrono::milliseconds(1500));
  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.reason, Reason::kConnectionRefused);  // the first failing endpoint's
  const std::string text = Text(result);
  const auto series = [](const std::string& name, const std::string& url,
                         const std::string& extra = "") {
    return name + "{check=\"fluentd\",target=\"" + url + "\"" + extra + "}";
  };
  EXPECT_EQ(Value(text, series("fluentd_up", Url(ok.port()))), 1) << text;
  EXPECT_EQ(Value(text, series("fluentd_output_status_retry_wait", Url(ok.port()),
                               ",plugin_id=\"out_es\",type=\"elasticsearch\"")),
            16);
  for (const Expect& f : faults) {
    const auto it = std::find_if(result.observations.begin(), result.observations.end(),
                                 [&](const Observation& o) { return o.subject == f.url; });
    ASSERT_NE(it, result.observations.end()) << f.url;
    EXPECT_EQ(Value(text, series("fluentd_up", f.url)), 0) << f.url;
    EXPECT_EQ(Value(text, series("fluentd_failure_info", f.url,
                                 ",reason=\"" + std::string(ReasonName(f.reason)) + "\"")),
              1)
        << f.url << ": " << it->message;
    EXPECT_EQ(it->reason, f.reason) << f.url << ": " << it->message;
    EXPECT_NE(it->message.find(f.words), std::string::npos) << it->message;
  }
  // No plugin series of a failed endpoint.
  EXPECT_EQ(text.find(Url(mistyped.port()) + "\",plugin_id"), std::string::npos);
}

// `optional: true` (the default config's): nothing listening means Fluentd is not on this node.
TEST_F(FluentdExporterTest, AnOptionalFluentdThatIsNotThereIsAbsent) {
  const std::string url = Url(testing::RefusedPort());
  auto exporter = Make("check: fluentd\nurls: [\"" + url + "\"]\noptional: true\n");
  const CollectResult result = CollectOnce(*exporter);
  EXPECT_EQ(result.reason, Reason::kNotPresent) << result.message;
  EXPECT_EQ(Value(Text(result), "fluentd_failure_info{check=\"fluentd\",target=\"" + url +
                                    "\",reason=\"not_present\"}"),
            1);
}

TEST_F(FluentdExporterTest, FailuresAreCountedPerEndpointAcrossRuns) {
  LoopbackServer ok(handlers::HttpReply(HttpResponse(Testdata("plugins_idle.json"))));
  const uint16_t refused = testing::RefusedPort();
  auto exporter = MakeFor({Url(ok.port()), Url(refused)});
  CollectOnce(*exporter);
  const std::string text = Text(CollectOnce(*exporter));
  EXPECT_EQ(Value(text, "fluentd_scrape_failures_total{check=\"fluentd\",target=\"" + Url(refused) +
                            "\"}"),
            2);
  EXPECT_EQ(Value(text, "fluentd_scrape_failures_total{check=\"fluentd\",target=\"" +
                            Url(ok.port()) + "\"}"),
            0);
}

// Fluentd restarts and every plugin without @id gets a new object id: the series stay.
TEST_F(FluentdExporterTest, ObjectIdsDoNotChurnSeriesAcrossARestart) {
  const std::string before = Testdata("plugins_object_ids.json");
  const std::string after =
      std::regex_replace(before, std::regex("\"object:([0-9a-f]+)\""), "\"object:7f3a$1\"");
  ASSERT_NE(before, after);
  LoopbackServer fluentd([&](int fd, LoopbackServer& server) {
    handlers::HttpReply(HttpResponse(server.accepted() == 1 ? before : after))(fd, server);
  });
  auto exporter = MakeFor({Url(fluentd.port())}, "categories: []\n");
  const auto masked = [](const std::string& text) {
    return std::regex_replace(
        text, std::regex(R"((fluentd_scrape_duration_seconds\{[^\n]*\}) [^\n]+)"), "$1 D");
  };
  const std::string first = masked(Text(CollectOnce(*exporter)));
  EXPECT_EQ(first, masked(Text(CollectOnce(*exporter))));
  EXPECT_EQ(first.find("object:"), std::string::npos);
  EXPECT_NE(first.find("plugin_id=\"forward#2\",type=\"forward\"} 16384"), std::string::npos)
      << first;

  auto raw = MakeFor({Url(fluentd.port())}, "stable_ids: false\n");
  EXPECT_NE(Text(CollectOnce(*raw)).find("plugin_id=\"object:7f3a8fc\""), std::string::npos);
}

TEST_F(FluentdExporterTest, FiltersSelectPlugins) {
  LoopbackServer fluentd(handlers::HttpReply(HttpResponse(Testdata("plugins_object_ids.json"))));
  auto exporter = MakeFor({Url(fluentd.port())}, "categories: [input, output]\ntypes: [forward]\n");
  const CollectResult result = CollectOnce(*exporter);
  EXPECT_EQ(result.message, "1 of 1 monitor_agents up, 3 plugins reported");
  const std::string text = Text(result);
  EXPECT_NE(text.find("plugin_id=\"forward#0\""), std::string::npos);  // in_forward
  EXPECT_EQ(text.find("type=\"stdout\""), std::string::npos);
}

TEST_F(FluentdExporterTest, TheDefaultIsTheStandardPort) {
  auto document = config::Document::FromString("check: fluentd\n", "fluentd.yaml");
  auto spec = factory_->Parse(document->root(), config::ParseContext("fluentd.yaml"));
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->target, "http://127.0.0.1:24220");
}

TEST_F(FluentdExporterTest, ConfigErrorsSayWhereAndWhat) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"check: f\nurls: [\"ftp://127.0.0.1:24220\"]\n",
       "fluentd.yaml:2:7: \"ftp://127.0.0.1:24220\": the scheme must be http or https"},
      {"check: f\nurls: [\"http://127.0.0.1:24220/api/plugins.json\"]\n",
       "give the base URL: the exporter appends /api/plugins.json"},
      {"check: f\nurls: [\"http://u:p@127.0.0.1:24220\"]\n", "credentials do not belong"},
      {"check: f\nurls: [\"http://127.0.0.1:24220?x=1\"]\n", "no query"},
      {"check: f\nurls: []\n", "at least one"},
      {"check: f\nurls: [\"http://127.0.0.1\"]\nworkers: 2\n",
       "fluentd.yaml:3:10: \"http://127.0.0.1\": with workers, the URL needs worker 0's port"},
      {"check: f\nurls: [\"http://127.0.0.1:65535\"]\nworkers: 2\n", "go past port 65535"},
      {"check: f\nworkers: 0\n", "workers must be between 1 and 256"},
      {"check: f\nurls: [\"http://127.0.0.1:24220\", \"127.0.0.1:24221\"]\nworkers: 2\n",
       "http://127.0.0.1:24221 is read twice"},
      {"check: f\ncategories: [outputs]\n", "unknown plugin category \"outputs\""},
      {"check: f\nmax_body_bytes: 10\n", "max_body_bytes must be between"},
      {"check: f\nurl: \"http://127.0.0.1:24220\"\n", "urls"},
  };
  for (const auto& [yaml, message] : cases) {
    const Status status = ParseError(yaml);
    ASSERT_FALSE(status.ok()) << yaml;
    EXPECT_NE(status.message().find(message), std::string::npos)
        << "expected \"" << message << "\" in: " << status.message();
  }
}

// sre-probe's flags make a config the factory accepts, as the agent's file would.
TEST_F(FluentdExporterTest, ProbeFlagsMakeAValidConfig) {
  const cli::ProbeCommand command = FluentdProbeCommand();
  cli::ParsedFlags flags;
  flags.positional = {"http://127.0.0.1:24220"};
  flags.values["workers"] = {"3"};
  flags.values["type"] = {"forward", "elasticsearch"};
  flags.values["all"] = {"true"};
  flags.values["object-ids"] = {"true"};
  auto node = command.build_config(flags);
  ASSERT_TRUE(node.ok()) << node.status().message();
  auto spec = factory_->Parse(*node, config::ParseContext("flags"));
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  const auto& config = *static_cast<const FluentdConfig*>(spec->config.get());
  EXPECT_EQ(config.endpoints.size(), 3u);
  EXPECT_EQ(config.endpoints[2].url, "http://127.0.0.1:24222/api/plugins.json");
  EXPECT_TRUE(config.categories.empty());
  EXPECT_FALSE(config.stable_ids);
  EXPECT_EQ(config.types, (std::vector<std::string>{"forward", "elasticsearch"}));
  EXPECT_FALSE(command.build_config({}).ok());
}

}  // namespace
}  // namespace sre::exporters::fluentd
