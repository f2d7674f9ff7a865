// Fuzzes what php-fpm (or whatever listens on its socket) sends back: FastCGI records split into
// pieces at arbitrary points, then EOF, then the CGI header/body split of whatever STDOUT came.
// Must never crash, and must keep within its limits whatever the input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "exporters/php_fpm/fastcgi.h"

using sre::exporters::php_fpm::ParseCgiResponse;
using sre::exporters::php_fpm::ResponseDecoder;
using sre::exporters::php_fpm::ResponseLimits;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Small limits, so inputs reach them.
  const ResponseLimits limits{4096, 64};
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  ResponseDecoder decoder(1, limits);
  size_t pos = 0;
  while (pos < input.size()) {
    // The first byte of each piece says how long the piece is: arbitrary splits.
    const size_t length = 1 + static_cast<unsigned char>(input[pos]) % 64;
    decoder.Feed(input.substr(pos, length));
    pos += length;
  }
  const auto state = decoder.FeedEof();
  if (decoder.stdout_bytes().size() > limits.max_stdout_bytes ||
      decoder.stderr_bytes().size() > limits.max_stderr_bytes ||
      (state == ResponseDecoder::State::kError) == decoder.error().empty()) {
    __builtin_trap();
  }
  const auto response = ParseCgiResponse(decoder.stdout_bytes());
  if (response.ok()) {
    const std::string_view out = decoder.stdout_bytes();
    // The body is the tail of STDOUT, never a copy or a view elsewhere.
    if (response->body.data() + response->body.size() != out.data() + out.size()) {
      __builtin_trap();
    }
  }
  return 0;
}
