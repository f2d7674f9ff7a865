#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "agent/base/clock.h"
#include "agent/config/source.h"
#include "agent/core/exporter_factory.h"
#include "agent/core/log.h"
#include "agent/net/curl_multi.h"
#include "agent/net/dns_resolver.h"
#include "agent/net/event_loop.h"
#include "agent/runtime/snapshot_store.h"
#include "tests/support/source_files.h"

namespace sre::testing {

/// What an exporter test needs around one factory: a real event loop on the system clock with
/// resolvers, libcurl multi and a quiet logger; an exporter made from YAML as the agent would
/// make it; one collection run to its end; and its exposition as text. Header-only: tests that
/// use it link sre::runtime anyway. Not thread-safe.
class ExporterHarness {
 protected:
  explicit ExporterHarness(std::unique_ptr<ExporterFactory> factory)
      : factory_(std::move(factory)) {}

  /// Parses `yaml` with the factory and creates the exporter (in /probe's peer-compatible mode
  /// when asked); a config error fails the test.
  std::unique_ptr<Exporter> Make(const std::string& yaml, bool peer_compatible = false) {
    auto document = config::Document::FromString(yaml, "test.yaml");
    EXPECT_TRUE(document.ok()) << document.status().message();
    auto spec = factory_->Parse(document->root(), config::ParseContext("test.yaml"));
    EXPECT_TRUE(spec.ok()) << spec.status().message();
    ExporterEnv env = env_;
    env.peer_compatible = peer_compatible;
    auto exporter = factory_->Create(*spec, env);
    EXPECT_TRUE(exporter.ok()) << exporter.status().message();
    return std::move(exporter).value();
  }

  /// Starts every exporter at once, each with `timeout`; their results in the order they finished.
  std::vector<std::pair<size_t, CollectResult>> CollectAll(
      const std::vector<Exporter*>& exporters,
      std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
    std::vector<std::pair<size_t, CollectResult>> results;
    for (size_t i = 0; i < exporters.size(); ++i) {
      exporters[i]->Collect(clock_.Now() + timeout, [&results, i](CollectResult r) {
        results.emplace_back(i, std::move(r));
      });
    }
    // The exporters keep their own deadlines; the loop only waits for them.
    while (results.size() < exporters.size()) loop_.RunOnce(std::chrono::milliseconds(50));
    return results;
  }

  CollectResult CollectOnce(Exporter& exporter,
                            std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
    return std::move(CollectAll({&exporter}, timeout).front().second);
  }

  /// The result's families as the agent would serve them (text format 0.0.4).
  static std::string Text(const CollectResult& result) {
    return MergeExposition({MakeSnapshot({}, result.families)}, ExpositionFormat::kText004);
  }

  /// `text` with the value of every sample whose name matches the regex `names` replaced by
  /// `mask`: durations and counts that vary between runs.
  static std::string MaskValues(const std::string& text, const std::string& names,
                                const std::string& mask = "<duration>") {
    return std::regex_replace(text, std::regex("(\\n(" + names + ")\\{[^\\n]*\\}) [^\\n]+"),
                              "$1 " + mask);
  }

  /// Compares `text` with the golden file at `path` under the source tree (SRE_SOURCE_DIR, set
  /// by ctest); with SRE_UPDATE_GOLDEN=1 in the environment, rewrites the file instead.
  static void ExpectGolden(const std::string& text, const std::string& path) {
    const std::string file = SourcePath(path);
    if (std::getenv("SRE_UPDATE_GOLDEN") != nullptr) std::ofstream(file) << text;
    std::ifstream golden(file);
    ASSERT_TRUE(golden.good()) << file;
    std::stringstream expected;
    expected << golden.rdbuf();
    EXPECT_EQ(text, expected.str()) << "golden file " << path;
  }

  /// Each sample's label names, per family, from an exposition: what a test of compatible names
  /// and labels compares with the peer exporter's list.
  static std::map<std::string, std::vector<std::set<std::string>>> LabelNames(
      const std::string& text) {
    std::map<std::string, std::vector<std::set<std::string>>> out;
    std::istringstream lines(text);
    const std::regex sample(R"(^([a-z_]+)\{(.*)\} .*$)");
    const std::regex label(R"re(([a-z_]+)="[^"]*")re");
    for (std::string line; std::getline(lines, line);) {
      std::smatch m;
      if (!std::regex_match(line, m, sample)) continue;
      const std::string labels = m[2];
      std::set<std::string> names;
      for (auto it = std::sregex_iterator(labels.begin(), labels.end(), label);
           it != std::sregex_iterator(); ++it) {
        names.insert((*it)[1]);
      }
      out[m[1]].push_back(std::move(names));
    }
    return out;
  }

  /// The value of the sample whose line starts with `series` ("name{labels}") in `text`.
  static std::optional<double> Value(const std::string& text, const std::string& series) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
    }
    return std::nullopt;
  }

  SystemClock clock_;
  net::EventLoop loop_{clock_};
  net::ResolverPool resolvers_{loop_};
  Logger log_{LogLevel::kError, LogFormat::kLogfmt, stderr, clock_};
  std::unique_ptr<net::CurlMulti> curl_ = net::CurlMulti::Create(loop_).value();
  ExporterEnv env_{loop_, resolvers_, *curl_, log_, false, true};
  std::unique_ptr<ExporterFactory> factory_;
};

}  // namespace sre::testing
