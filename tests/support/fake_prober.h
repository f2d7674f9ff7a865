#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "agent/core/exporter_factory.h"
#include "agent/core/metric_set.h"
#include "agent/net/event_loop.h"

namespace sre::testing {

/// An exporter for /probe tests: after `delay` (a timer on the loop) it reports
/// `probe_success`, `fake_peer_compatible` (whether ExporterEnv::peer_compatible was set) and
/// `fake_budget_seconds` (its deadline minus the time Collect was called). `hang` makes it never
/// answer, to exercise the agent's guards. Loop-thread only.
class FakeProber final : public Exporter {
 public:
  struct Config {
    CheckSettings settings;
    std::string target;
    bool succeed = true;
    bool hang = false;
    Duration delay{0};
  };
  /// Counts shared with the test thread.
  struct Counters {
    std::atomic<int> created{0};
    std::atomic<int> destroyed{0};
    std::atomic<int> cancelled{0};
  };

  FakeProber(const Config& config, ExporterEnv& env, std::shared_ptr<Counters> counters)
      : config_(config),
        loop_(env.loop),
        peer_compatible_(env.peer_compatible),
        counters_(std::move(counters)) {
    ++counters_->created;
  }
  ~FakeProber() override {
    Cancel();
    ++counters_->destroyed;
  }

  void Collect(TimePoint deadline, Done done) override {
    done_ = std::move(done);
    const double budget = std::chrono::duration<double>(deadline - loop_.clock().Now()).count();
    if (config_.hang) return;
    timer_ = loop_.AddTimerAfter(config_.delay, [this, budget] {
      timer_.reset();
      CollectResult result;
      result.success = config_.succeed;
      result.reason = config_.succeed ? Reason::kNone : Reason::kConnectionRefused;
      result.message = config_.succeed ? "fine" : "refused";
      MetricSet set;
      set.Gauge("probe_success", "Displays whether or not the probe was a success", {},
                config_.succeed ? 1 : 0);
      set.Gauge("fake_peer_compatible", "Whether the env asked for peer compatibility.", {},
                peer_compatible_ ? 1 : 0);
      set.Gauge("fake_budget_seconds", "Deadline minus the start of Collect.", {}, budget);
      result.families = set.Take();
      Done done = std::move(done_);
      done_ = nullptr;
      done(std::move(result));
    });
  }

  void Cancel() override {
    if (done_) ++counters_->cancelled;
    if (timer_) loop_.CancelTimer(*timer_);
    timer_.reset();
    done_ = nullptr;
  }

 private:
  const Config config_;
  net::EventLoop& loop_;
  const bool peer_compatible_;
  std::shared_ptr<Counters> counters_;
  Done done_;
  std::optional<net::EventLoop::TimerId> timer_;
};

/// The `fake_probe` exporter type: prober "fake", target key `target` (host:port), keys
/// `succeed`, `hang`, `delay`. Thread-safe, like every factory.
class FakeProberFactory final : public TypedExporterFactory<FakeProber::Config> {
 public:
  std::string_view name() const override { return "fake_probe"; }
  std::string_view summary() const override { return "a test prober"; }
  ProbeSupport probe_support() const override { return {"fake", "target", "example.invalid:1"}; }

  std::shared_ptr<FakeProber::Counters> counters = std::make_shared<FakeProber::Counters>();

 protected:
  const config::Schema<FakeProber::Config>& TypedSchema() const override {
    static const auto* schema = [] {
      using C = FakeProber::Config;
      auto* s = new config::Schema<C>("fake probe");
      s->Embed(&C::settings, CheckSettingsSchema());
      s->Field("target", &C::target, "host:port").Required();
      s->Validate<std::string>(&C::target, [](const std::string& t) -> std::optional<std::string> {
        if (t.find(':') != std::string::npos) return std::nullopt;
        return "invalid target \"" + t + "\": expected host:port";
      });
      s->Field("succeed", &C::succeed, "whether the probe succeeds");
      s->Field("hang", &C::hang, "never answer");
      s->Field("delay", &C::delay, "answer after this long");
      return s;
    }();
    return *schema;
  }
  std::string Target(const FakeProber::Config& c) const override { return c.target; }
  Result<std::unique_ptr<Exporter>> Make(const FakeProber::Config& c,
                                         ExporterEnv& env) const override {
    return std::unique_ptr<Exporter>(std::make_unique<FakeProber>(c, env, counters));
  }
};

}  // namespace sre::testing
