#pragma once

#include <re2/re2.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/core/reason.h"
#include "exporters/http_probe/http_config.h"

namespace sre::exporters::http_probe {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// Adds one raw header line of a response ("Name: value\r\n") to `headers`; a status line
/// ("HTTP/1.1 200 OK") starts a new response and clears them. Lines without a colon are ignored.
void AppendHeaderLine(std::string_view line, HeaderList& headers);

/// The Last-Modified header as Unix seconds; nullopt when absent or unparsable.
std::optional<double> LastModified(const HeaderList& headers);

/// The final response of a probe, as the rules see it.
struct ResponseView {
  long status = 0;
  std::string_view http_version;  ///< "HTTP/1.1", "HTTP/2.0"
  bool ssl = false;
  /// Header lines in order, names as sent.
  const HeaderList* headers = nullptr;
  std::string_view body;
};

/// The verdict on a response.
struct Verdict {
  Reason reason = Reason::kNone;
  std::string message;
  bool failed_due_to_regex = false;
};

/// What a response must look like (HttpOptions' status, version, TLS, header and body rules),
/// with the regular expressions compiled once. Pure: no I/O; immutable and thread-safe.
class ResponseRules {
 public:
  /// `options` must have passed HttpOptionsSchema (its regexes compile).
  explicit ResponseRules(const HttpOptions& options);

  /// Whether the response headers must be kept for the header rules.
  bool needs_headers() const {
    return !header_must_not_match_.empty() || !header_must_match_.empty();
  }
  /// Whether the body must be kept for the body rules.
  bool needs_body() const { return !body_must_not_match_.empty() || !body_must_match_.empty(); }

  Verdict Evaluate(const ResponseView& response) const;

 private:
  struct HeaderCheck {
    std::string header;
    std::unique_ptr<re2::RE2> regexp;
    bool allow_missing = false;
  };

  std::vector<int64_t> valid_status_codes_;
  std::vector<std::string> valid_http_versions_;
  bool fail_if_ssl_ = false;
  bool fail_if_not_ssl_ = false;
  std::vector<std::unique_ptr<re2::RE2>> body_must_not_match_;
  std::vector<std::unique_ptr<re2::RE2>> body_must_match_;
  std::vector<HeaderCheck> header_must_not_match_;
  std::vector<HeaderCheck> header_must_match_;
};

/// "HTTP/2" and "HTTP/2.0" are one version (blackbox_exporter writes the latter).
std::string CanonicalHttpVersion(std::string_view version);

}  // namespace sre::exporters::http_probe
