// Fuzzes php-fpm's JSON status page as a lying or broken peer may send it: must return a status
// or an error, never crash, recurse without bound or throw.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "exporters/php_fpm/status.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto status = sre::exporters::php_fpm::ParsePoolStatus(text);
  if (status.ok()) (void)sre::exporters::php_fpm::CountByState(status->processes);
  return 0;
}
