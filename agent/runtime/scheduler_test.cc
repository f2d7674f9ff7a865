#include "agent/runtime/scheduler.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "agent/net/curl_multi.h"
#include "agent/net/dns_resolver.h"
#include "tests/support/fake_exporter.h"

namespace sre {
namespace {

using std::chrono::milliseconds;
using testing::FakeFactory;

class SchedulerTest : public ::testing::Test {
 protected:
  SchedulerTest() {
    auto factory = std::make_unique<FakeFactory>();
    factory_ = factory.get();
    registry_.Add(std::move(factory));
  }

  InstanceSpec Spec(const std::string& check, Duration interval, Duration timeout,
                    const std::string& target = "fake:1") {
    YAML::Node node;
    node["check"] = check;
    node["target"] = target;
    auto spec = factory_->Parse(node, config::ParseContext("test"));
    EXPECT_TRUE(spec.ok()) << spec.status().message();
    spec->settings.interval = interval;
    spec->settings.timeout = timeout;
    return *spec;
  }

  // Moves the fake clock in small steps, running whatever falls due, like real time would.
  void Advance(Duration by) {
    const TimePoint end = clock_.Now() + by;
    while (clock_.Now() < end) {
      clock_.Advance(std::min<Duration>(milliseconds(1), end - clock_.Now()));
      loop_.RunOnce(Duration(0));
    }
  }

  std::string Metrics() { return *store_.Render(ExpositionFormat::kText004); }

  FakeClock clock_;
  net::EventLoop loop_{clock_};
  net::ResolverPool resolvers_{loop_};
  Logger log_{LogLevel::kError, LogFormat::kLogfmt, stderr, clock_};
  std::unique_ptr<net::CurlMulti> curl_ = net::CurlMulti::Create(loop_).value();
  ExporterEnv env_{loop_, resolvers_, *curl_, log_, false, false};
  ExporterRegistry registry_;
  FakeFactory* factory_;
  SnapshotStore store_;
  Scheduler scheduler_{env_, registry_, store_};
};

// A loop that wakes late makes runs start late: the lateness histogram records by how much.
TEST_F(SchedulerTest, RecordsHowLateRunsStart) {
  ASSERT_TRUE(scheduler_.Apply({Spec("a", milliseconds(100), milliseconds(80))}).ok());
  Advance(milliseconds(100));
  ASSERT_EQ(factory_->log->collects, 1);
  const TimePoint started = factory_->log->deadlines[0] - milliseconds(80);
  factory_->made[0]->Complete(true, 1);
  // One wake-up, 30 ms after the second tick was due.
  clock_.Advance(started + milliseconds(130) - clock_.Now());
  loop_.RunOnce(Duration(0));
  ASSERT_EQ(factory_->log->collects, 2);
  const auto families = scheduler_.SelfFamilies();
  ASSERT_EQ(families.size(), 1u);
  const auto& histogram = families[0].metric.at(0).histogram;
  EXPECT_EQ(families[0].name, "sre_agent_collect_start_lateness_seconds");
  EXPECT_EQ(histogram.sample_count, 2u);
  EXPECT_NEAR(histogram.sample_sum, 0.030, 0.002);
}

TEST_F(SchedulerTest, RunsOnItsIntervalWithDeadlineAndPublishes) {
  ASSERT_TRUE(scheduler_.Apply({Spec("a", milliseconds(100), milliseconds(80))}).ok());
  EXPECT_FALSE(scheduler_.FirstRoundDone());
  Advance(milliseconds(100));  // the first run starts within the first interval
  ASSERT_EQ(factory_->log->collects, 1);
  const TimePoint started = factory_->log->deadlines[0] - milliseconds(80);
  factory_->made[0]->Complete(true, 42);
  EXPECT_TRUE(scheduler_.FirstRoundDone());
  EXPECT_NE(Metrics().find("fake_value{source=\"fake\"} 42"), std::string::npos);
  EXPECT_NE(Metrics().find("sre_agent_collect_success{exporter=\"fake\",check=\"a\"} 1"),
            std::string::npos);
  // Fixed rate: the next run starts one interval after the first, not after it finished.
  Advance(started + milliseconds(100) - clock_.Now() - milliseconds(1));
  EXPECT_EQ(factory_->log->collects, 1);
  Advance(milliseconds(1));
  EXPECT_EQ(factory_->log->collects, 2);
}

// A service that is not on this node is reported as absent, apart from the failures.
TEST_F(SchedulerTest, AServiceNotPresentIsAbsentNotFailing) {
  ASSERT_TRUE(scheduler_
                  .Apply({Spec("fpm", milliseconds(100), milliseconds(80)),
                          Spec("db", milliseconds(100), milliseconds(80))})
                  .ok());
  Advance(milliseconds(100));
  ASSERT_EQ(factory_->made.size(), 2u);
  factory_->made[0]->Complete(false, 0, Reason::kNotPresent);
  factory_->made[1]->Complete(false);
  const std::string metrics = Metrics();
  EXPECT_NE(metrics.find("sre_agent_collect_absent{exporter=\"fake\",check=\"fpm\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("sre_agent_collect_absent{exporter=\"fake\",check=\"db\"} 0"),
            std::string::npos);
  EXPECT_NE(metrics.find("sre_agent_collect_success{exporter=\"fake\",check=\"fpm\"} 0"),
            std::string::npos);
}

TEST_F(SchedulerTest, CancelsARunThatOutlivesItsDeadline) {
  ASSERT_TRUE(scheduler_.Apply({Spec("slow", milliseconds(100), milliseconds(80))}).ok());
  Advance(milliseconds(100));
  ASSERT_EQ(factory_->log->collects, 1);
  const TimePoint started = factory_->log->deadlines[0] - milliseconds(80);
  // The exporter never answers: the watchdog cancels it shortly after its deadline, and the tick
  // that came while it was still running was skipped.
  Advance(started + milliseconds(140) - clock_.Now());
  EXPECT_EQ(factory_->log->cancels, 1);
  const std::string metrics = Metrics();
  EXPECT_NE(metrics.find("sre_agent_collect_errors_total{exporter=\"fake\",check=\"slow\","
                         "reason=\"timeout\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("sre_agent_skipped_ticks_total{exporter=\"fake\",check=\"slow\"} 1"),
            std::string::npos)
      << metrics;
  Advance(started + milliseconds(200) - clock_.Now());
  EXPECT_EQ(factory_->log->collects, 2);  // the next tick runs normally
}

TEST_F(SchedulerTest, NeverRunsOneCheckTwiceAtOnce) {
  // A timeout above the interval would overlap without the guard (configs reject it; the
  // scheduler must hold anyway).
  ASSERT_TRUE(scheduler_.Apply({Spec("tight", milliseconds(50), milliseconds(200))}).ok());
  Advance(milliseconds(50));
  ASSERT_EQ(factory_->log->collects, 1);
  const TimePoint started = factory_->log->deadlines[0] - milliseconds(200);
  Advance(started + milliseconds(120) - clock_.Now());  // ticks at +50 and +100 come and go
  EXPECT_EQ(factory_->log->collects, 1);
  factory_->made[0]->Complete(true);
  const std::string metrics = Metrics();
  EXPECT_NE(metrics.find("sre_agent_skipped_ticks_total{exporter=\"fake\",check=\"tight\"} 2"),
            std::string::npos)
      << metrics;
  Advance(milliseconds(30));  // the tick at +150 runs
  EXPECT_EQ(factory_->log->collects, 2);
}

TEST_F(SchedulerTest, ApplyKeepsUnchangedChecksAndReplacesChangedOnes) {
  ASSERT_TRUE(scheduler_
                  .Apply({Spec("keep", milliseconds(100), milliseconds(50)),
                          Spec("change", milliseconds(100), milliseconds(50)),
                          Spec("drop", milliseconds(100), milliseconds(50))})
                  .ok());
  Advance(milliseconds(100));
  for (auto* exporter : factory_->made) exporter->Complete(true);
  ASSERT_EQ(factory_->made.size(), 3u);

  ASSERT_TRUE(scheduler_
                  .Apply({Spec("keep", milliseconds(100), milliseconds(50)),
                          Spec("change", milliseconds(100), milliseconds(50), "fake:2"),
                          Spec("new", milliseconds(100), milliseconds(50))})
                  .ok());
  EXPECT_EQ(factory_->made.size(), 5u);  // only "change" and "new" were made again
  EXPECT_EQ(scheduler_.size(), 3u);
  const std::string metrics = Metrics();
  EXPECT_EQ(metrics.find("check=\"drop\""), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("sre_agent_collects_total{exporter=\"fake\",check=\"keep\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_EQ(store_.All().size(), 3u);
}

TEST_F(SchedulerTest, SpreadsFirstRunsAcrossTheStartWindow) {
  std::vector<InstanceSpec> specs;
  for (int i = 0; i < 50; ++i) {
    specs.push_back(
        Spec("c" + std::to_string(i), std::chrono::seconds(10), std::chrono::seconds(1)));
  }
  ASSERT_TRUE(scheduler_.Apply(specs).ok());
  Advance(milliseconds(100));
  EXPECT_GT(factory_->log->collects, 0);
  EXPECT_LT(factory_->log->collects, 50);
  Advance(milliseconds(900));
  EXPECT_EQ(factory_->log->collects, 50);
}

}  // namespace
}  // namespace sre
