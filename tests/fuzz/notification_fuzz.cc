// Fuzzes the decoding of a spooled notification (JSON). The spool's checksum catches torn writes,
// but a spool file is still bytes from disk: decoding must refuse what is not a notification,
// never crash or throw, and what it accepts must encode to JSON that decodes again and encodes
// to the same text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/alerting/notification.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto decoded = sre::alerting::DecodeNotification(text);
  if (!decoded.ok()) return 0;
  const std::string encoded = sre::alerting::EncodeNotification(decoded.value());
  auto again = sre::alerting::DecodeNotification(encoded);
  if (!again.ok()) __builtin_trap();
  if (sre::alerting::EncodeNotification(again.value()) != encoded) __builtin_trap();
  return 0;
}
