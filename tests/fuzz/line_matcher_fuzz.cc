// Fuzzes what a TCP peer sends against expect steps: bytes split into pieces at arbitrary points,
// matched against a few patterns, with and without EOF. Must never crash or grow without bound.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/net/line_matcher.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const re2::RE2 patterns[] = {re2::RE2("^220 "), re2::RE2("(a|aa)*c"), re2::RE2("OK$")};
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  sre::net::LineMatcher lines;
  size_t pos = 0;
  size_t round = 0;
  while (pos < input.size()) {
    // The first byte of each piece says how long the piece is: arbitrary splits.
    const size_t length = 1 + static_cast<unsigned char>(input[pos]) % 64;
    lines.Append(input.substr(pos, length));
    pos += length;
    const auto verdict = lines.Next(patterns[round++ % 3]);
    if (verdict == sre::net::LineMatcher::Verdict::kLineTooLong) return 0;
  }
  lines.SetEof();
  (void)lines.Next(patterns[0]);
  return 0;
}
