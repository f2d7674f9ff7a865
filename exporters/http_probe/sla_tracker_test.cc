#include "exporters/http_probe/sla_tracker.h"

#include <gtest/gtest.h>

namespace sre::exporters::http_probe {
namespace {

const std::map<std::string, Reason> kAllOk;

TEST(SlaTrackerTest, OpensAtFirstFailureAndClosesAtFirstFullSuccess) {
  SlaTracker sla(1);
  const double t0 = 1'800'000'000;  // 2027-01-15 08:00:00 UTC
  sla.Record(t0, kAllOk);
  EXPECT_FALSE(sla.open());
  sla.Record(t0 + 15, {{"127.0.0.7", Reason::kStatusMismatch}});
  EXPECT_TRUE(sla.open());
  EXPECT_DOUBLE_EQ(sla.ViolationSeconds(t0 + 20), 5);
  sla.Record(t0 + 30, {{"127.0.0.8", Reason::kTimeout}});
  sla.Record(t0 + 43, kAllOk);
  EXPECT_FALSE(sla.open());
  EXPECT_EQ(sla.opened_total(), 1u);
  EXPECT_DOUBLE_EQ(sla.ViolationSeconds(t0 + 1000), 28);
  ASSERT_EQ(sla.recent().size(), 1u);
  EXPECT_EQ(sla.Describe(t0 + 1000).front(),
            "failed 2027-01-15 08:00:15 to 08:00:43 UTC, 28 s, 127.0.0.7: status_mismatch, "
            "127.0.0.8: timeout");
}

TEST(SlaTrackerTest, MinFailuresDatesTheViolationFromTheFirstFailingRun) {
  SlaTracker sla(3);
  const double t0 = 1'800'000'000;
  sla.Record(t0, {{"a", Reason::kTimeout}});
  sla.Record(t0 + 10, {{"a", Reason::kTimeout}});
  EXPECT_FALSE(sla.open());
  sla.Record(t0 + 20, kAllOk);  // a blip shorter than min_failures is not a violation
  sla.Record(t0 + 30, {{"a", Reason::kTimeout}});
  sla.Record(t0 + 40, {{"a", Reason::kTimeout}});
  sla.Record(t0 + 50, {{"a", Reason::kConnectionRefused}});
  EXPECT_TRUE(sla.open());
  EXPECT_DOUBLE_EQ(sla.recent().front().opened_unix, t0 + 30);
  EXPECT_EQ(sla.Describe(t0 + 55).front(),
            "failing since 2027-01-15 08:00:30 UTC, 25 s so far, a: timeout");
}

TEST(SlaTrackerTest, KeepsOnlyTheNewestViolations) {
  SlaTracker sla(1, 2);
  for (int i = 0; i < 5; ++i) {
    sla.Record(i * 10, {{"a", Reason::kTimeout}});
    sla.Record(i * 10 + 5, kAllOk);
  }
  EXPECT_EQ(sla.opened_total(), 5u);
  ASSERT_EQ(sla.recent().size(), 2u);
  EXPECT_DOUBLE_EQ(sla.recent().front().opened_unix, 40);
  EXPECT_DOUBLE_EQ(sla.ViolationSeconds(100), 25);
}

}  // namespace
}  // namespace sre::exporters::http_probe
