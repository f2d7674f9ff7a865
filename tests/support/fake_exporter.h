#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/core/exporter_factory.h"
#include "agent/core/metric_set.h"

namespace sre::testing {

/// An exporter whose runs the test finishes by hand: Collect records the run, and Complete()
/// answers it. Lets scheduler tests drive overlap, deadlines and results exactly.
class FakeExporter final : public Exporter {
 public:
  struct Log {
    int collects = 0;
    int cancels = 0;
    std::vector<TimePoint> deadlines;
  };

  explicit FakeExporter(std::shared_ptr<Log> log) : log_(std::move(log)) {}
  void Collect(TimePoint deadline, Done done) override {
    ++log_->collects;
    log_->deadlines.push_back(deadline);
    done_ = std::move(done);
  }
  void Cancel() override {
    if (done_) ++log_->cancels;
    done_ = nullptr;
  }
  bool running() const { return static_cast<bool>(done_); }
  /// Ends the run: successful, or failed with `failure` (connection_refused by default).
  void Complete(bool success, double value = 1, Reason failure = Reason::kConnectionRefused) {
    CollectResult result;
    result.success = success;
    result.reason = success ? Reason::kNone : failure;
    result.message = success ? "fine" : "refused";
    MetricSet set;
    set.Gauge("fake_value", "A value.", {{"source", "fake"}}, value);
    result.families = set.Take();
    Done done = std::move(done_);
    done_ = nullptr;
    done(std::move(result));
  }

 private:
  std::shared_ptr<Log> log_;
  Done done_;
};

struct FakeConfig {
  CheckSettings settings;
  std::string target = "fake:1";
};

/// The `fake` exporter type: keys `check`, `interval`, `timeout`, `labels`, `target`. Keeps every
/// exporter it made so tests can reach them.
class FakeFactory final : public TypedExporterFactory<FakeConfig> {
 public:
  std::string_view name() const override { return "fake"; }
  std::string_view summary() const override { return "a test exporter"; }

  mutable std::vector<FakeExporter*> made;
  std::shared_ptr<FakeExporter::Log> log = std::make_shared<FakeExporter::Log>();

 protected:
  const config::Schema<FakeConfig>& TypedSchema() const override {
    static const auto* schema = [] {
      auto* s = new config::Schema<FakeConfig>("fake check");
      s->Embed(&FakeConfig::settings, CheckSettingsSchema());
      s->Field("target", &FakeConfig::target, "what it pretends to check");
      return s;
    }();
    return *schema;
  }
  std::string Target(const FakeConfig& c) const override { return c.target; }
  Result<std::unique_ptr<Exporter>> Make(const FakeConfig&, ExporterEnv&) const override {
    auto exporter = std::make_unique<FakeExporter>(log);
    made.push_back(exporter.get());
    return std::unique_ptr<Exporter>(std::move(exporter));
  }
};

}  // namespace sre::testing
