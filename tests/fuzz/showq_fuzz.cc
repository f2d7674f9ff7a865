// Fuzzes the showq listing as a broken or lying peer may stream it: the first input byte picks
// how the rest is cut into pieces, so split names, values and lines are covered too. Must end in
// a state, never crash, and never keep more than its field limit.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "exporters/postfix/showq.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 64;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  sre::exporters::postfix::ShowqParser parser(1795820000, {.max_field_bytes = 1024});
  while (!stream.empty()) {
    const size_t n = std::min(piece, stream.size());
    parser.Feed(stream.substr(0, n));
    stream.remove_prefix(n);
  }
  parser.FeedEof();
  return 0;
}
