// Fuzzes the classification of a receiver's HTTP answer, whose status, Retry-After header and
// body come from the network: byte 0 picks the receiver kind, bytes 1-2 the status (0-599), the
// rest up to the first newline is the Retry-After value and the remainder the body. The verdict
// must follow the status, keep Retry-After within [0, kMaxRetryAfter], and give a short one-line
// message that never holds the secret.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/alerting/receiver_response.h"

namespace {

using sre::alerting::Outcome;

// Sun, 06 Dec 2026 14:13:05.123 GMT, so the HTTP-date forms land near it.
constexpr double kNow = 1796566385.123;
constexpr std::string_view kSecret =
    "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX";

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const auto kind = static_cast<sre::alerting::ReceiverKind>(data[0] % 4);
  const long status = ((long{data[1]} << 8) | data[2]) % 600;
  std::string_view rest(reinterpret_cast<const char*>(data) + 3, size - 3);
  const size_t newline = rest.find('\n');
  const std::string_view retry_after = rest.substr(0, newline);
  const std::string_view body =
      newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);

  const sre::alerting::Verdict verdict =
      sre::alerting::ClassifyResponse(kind, status, retry_after, body, kNow, kSecret);
  if (status >= 200 && status < 300) {
    Check(verdict.outcome == Outcome::kDelivered);
  } else if (status < 100 || status == 408 || status == 429 || status >= 500) {
    Check(verdict.outcome == Outcome::kRetry);
  } else {
    Check(verdict.outcome == Outcome::kRejected);
  }
  Check(verdict.retry_after.count() >= 0 && verdict.retry_after <= sre::alerting::kMaxRetryAfter);
  Check(verdict.message.size() <= 240);
  Check(verdict.message.find('\n') == std::string::npos);
  Check(verdict.message.find(kSecret) == std::string::npos);
  return 0;
}
