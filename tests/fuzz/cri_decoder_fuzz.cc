// Fuzzes the CRI container-log decoder (kubelet's `TIME STREAM P|F CONTENT` records) the Postfix
// exporter reads from /var/log/pods: the first input byte picks the line limit, the rest is cut
// at newlines into records, fed in order, as the file follower does. Must never crash, and each
// line passed on must come from the input: no newline in it, never longer than the input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "exporters/postfix/log_follower.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t max_line_bytes = 1 + size_t{data[0]} * 4;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t input_size = input.size();
  sre::exporters::postfix::CriDecoder decoder(
      [input_size](std::string_view line) {
        if (line.size() > input_size || line.find('\n') != std::string_view::npos) {
          __builtin_trap();
        }
      },
      max_line_bytes);
  while (!input.empty()) {
    const size_t end = input.find('\n');
    decoder(input.substr(0, end));
    if (end == std::string_view::npos) break;
    input.remove_prefix(end + 1);
  }
  return 0;
}
