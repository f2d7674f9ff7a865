#include "exporters/fluentd/ruby_time.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace sre::exporters::fluentd {
namespace {

TEST(RubyTimeTest, AppliesTheOffset) {
  const std::vector<std::pair<std::string, double>> good = {
      {"2025-05-29 16:05:52 +0900", 1748502352},
      {"2025-05-29 07:05:52 UTC", 1748502352},
      {"2025-05-29 07:05:52 +0000", 1748502352},
      {"2025-05-29 02:35:52 -0430", 1748502352},
      {"2025-05-29T16:05:52.250+09:00", 1748502352.25},
      {"2025-05-29T07:05:52Z", 1748502352},
      {"1970-01-01 00:00:00 UTC", 0},
      {"2024-02-29 12:00:00 +0100", 1709204400},
  };
  for (const auto& [text, unix] : good) {
    EXPECT_EQ(ParseRubyTime(text), unix) << text;
  }
  for (const char* bad :
       {"", "tomorrow", "2025-05-29", "2025-05-29 16:05:52", "2025-05-29 16:05:52 JST",
        "2025-02-29 00:00:00 UTC", "2025-13-01 00:00:00 UTC", "2025-05-29 24:00:00 UTC",
        "2025-05-29 16:05:52 +09", "2025-05-29 16:05:52 +0900 ", "2025-5-29 16:05:52 +0900",
        "2025-05-29 16:05:52. UTC"}) {
    EXPECT_FALSE(ParseRubyTime(bad)) << bad;
  }
}

}  // namespace
}  // namespace sre::exporters::fluentd
