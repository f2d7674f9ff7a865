// Fuzzes what an HTTP server sends back as the probe reads it: header lines up to a blank line,
// then the body, judged by every kind of response rule. Must never crash or hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "exporters/http_probe/response_rules.h"

using sre::exporters::http_probe::HeaderList;
using sre::exporters::http_probe::HttpOptions;
using sre::exporters::http_probe::ResponseRules;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ResponseRules* rules = [] {
    HttpOptions options;
    options.valid_status_codes = {200, 301};
    options.valid_http_versions = {"HTTP/1.1", "HTTP/2.0"};
    options.fail_if_body_matches_regexp = {"(a|aa)*c", "error"};
    options.fail_if_body_not_matches_regexp = {"^\\{.*\\}$"};
    options.fail_if_header_matches = {{"Set-Cookie", "session=", true}};
    options.fail_if_header_not_matches = {{"Content-Type", "^text/", false}};
    return new ResponseRules(options);
  }();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  HeaderList headers;
  while (!input.empty()) {
    const size_t end = input.find('\n');
    const std::string_view line = input.substr(0, end == std::string_view::npos ? end : end + 1);
    input.remove_prefix(line.size());
    if (line == "\r\n" || line == "\n") break;
    sre::exporters::http_probe::AppendHeaderLine(line, headers);
  }
  (void)sre::exporters::http_probe::LastModified(headers);
  const long status = size > 0 ? 100 + data[0] % 500 : 200;
  (void)rules->Evaluate({status, "HTTP/1.1", size % 2 == 0, &headers, input});
  return 0;
}
