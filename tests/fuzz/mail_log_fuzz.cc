// Fuzzes the mail log line parser with what a log may hold: any bytes per line. Must count every
// line, never crash, and keep label values to what the line held.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/core/metric_set.h"
#include "exporters/postfix/mail_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  sre::exporters::postfix::MailLogCounters counters;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    counters.Consume(text.substr(0, newline));
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
  }
  sre::MetricSet set;
  counters.AddTo(set, {{"check", "fuzz"}});
  return 0;
}
