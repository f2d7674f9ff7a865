#include "exporters/http_probe/response_rules.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <strings.h>

#include <algorithm>

namespace sre::exporters::http_probe {
namespace {

std::unique_ptr<re2::RE2> Compile(const std::string& pattern) {
  re2::RE2::Options options;
  options.set_log_errors(false);
  return std::make_unique<re2::RE2>(pattern, options);
}

std::vector<std::unique_ptr<re2::RE2>> CompileAll(const std::vector<std::string>& patterns) {
  std::vector<std::unique_ptr<re2::RE2>> compiled;
  for (const std::string& pattern : patterns) compiled.push_back(Compile(pattern));
  return compiled;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.back() == '\r' || text.back() == '\n' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  return text;
}

/// Every value of `name` (case-insensitive), in order.
std::vector<std::string_view> HeaderValues(const HeaderList* headers, const std::string& name) {
  std::vector<std::string_view> values;
  if (headers == nullptr) return values;
  for (const auto& [key, value] : *headers) {
    if (strcasecmp(key.c_str(), name.c_str()) == 0) values.push_back(value);
  }
  return values;
}

}  // namespace

void AppendHeaderLine(std::string_view line, HeaderList& headers) {
  if (line.starts_with("HTTP/")) {
    headers.clear();  // a new response (after a 100 Continue, say)
  } else if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    headers.emplace_back(std::string(Trim(line.substr(0, colon))),
                         std::string(Trim(line.substr(colon + 1))));
  }
}

std::optional<double> LastModified(const HeaderList& headers) {
  for (const std::string_view value : HeaderValues(&headers, "Last-Modified")) {
    const time_t parsed = curl_getdate(std::string(value).c_str(), nullptr);
    if (parsed >= 0) return static_cast<double>(parsed);
  }
  return std::nullopt;
}

std::string CanonicalHttpVersion(std::string_view version) {
  if (version == "HTTP/2" || version == "HTTP/3") return std::string(version) + ".0";
  return std::string(version);
}

ResponseRules::ResponseRules(const HttpOptions& options)
    : valid_status_codes_(options.valid_status_codes),
      fail_if_ssl_(options.fail_if_ssl),
      fail_if_not_ssl_(options.fail_if_not_ssl),
      body_must_not_match_(CompileAll(options.fail_if_body_matches_regexp)),
      body_must_match_(CompileAll(options.fail_if_body_not_matches_regexp)) {
  for (const std::string& version : options.valid_http_versions) {
    valid_http_versions_.push_back(CanonicalHttpVersion(version));
  }
  for (const HeaderRule& rule : options.fail_if_header_matches) {
    header_must_not_match_.push_back({rule.header, Compile(rule.regexp), rule.allow_missing});
  }
  for (const HeaderRule& rule : options.fail_if_header_not_matches) {
    header_must_match_.push_back({rule.header, Compile(rule.regexp), rule.allow_missing});
  }
}

Verdict ResponseRules::Evaluate(const ResponseView& response) const {
  const bool status_ok = valid_status_codes_.empty()
                             ? response.status >= 200 && response.status < 300
                             : std::find(valid_status_codes_.begin(), valid_status_codes_.end(),
                                         response.status) != valid_status_codes_.end();
  if (!status_ok) {
    return {Reason::kStatusMismatch, fmt::format("status {} is not accepted", response.status)};
  }
  if (!valid_http_versions_.empty()) {
    const std::string version = CanonicalHttpVersion(response.http_version);
    if (std::find(valid_http_versions_.begin(), valid_http_versions_.end(), version) ==
        valid_http_versions_.end()) {
      return {Reason::kProtocolError, fmt::format("{} is not an accepted version", version)};
    }
  }
  if (fail_if_ssl_ && response.ssl) return {Reason::kProtocolError, "the response came over TLS"};
  if (fail_if_not_ssl_ && !response.ssl) {
    return {Reason::kProtocolError, "the response did not come over TLS"};
  }
  for (const HeaderCheck& check : header_must_not_match_) {
    const auto values = HeaderValues(response.headers, check.header);
    if (values.empty() && !check.allow_missing) {
      return {Reason::kHeaderMismatch, fmt::format("header {} is missing", check.header), true};
    }
    for (std::string_view value : values) {
      if (re2::RE2::PartialMatch(value, *check.regexp)) {
        return {Reason::kHeaderMismatch,
                fmt::format("header {} matches /{}/", check.header, check.regexp->pattern()), true};
      }
    }
  }
  for (const HeaderCheck& check : header_must_match_) {
    const auto values = HeaderValues(response.headers, check.header);
    if (values.empty()) {
      if (check.allow_missing) continue;
      return {Reason::kHeaderMismatch, fmt::format("header {} is missing", check.header), true};
    }
    const bool any = std::any_of(values.begin(), values.end(), [&](std::string_view value) {
      return re2::RE2::PartialMatch(value, *check.regexp);
    });
    if (!any) {
      return {Reason::kHeaderMismatch,
              fmt::format("header {} does not match /{}/", check.header, check.regexp->pattern()),
              true};
    }
  }
  for (const auto& regexp : body_must_not_match_) {
    if (re2::RE2::PartialMatch(response.body, *regexp)) {
      return {Reason::kBodyMismatch, fmt::format("body matches /{}/", regexp->pattern()), true};
    }
  }
  for (const auto& regexp : body_must_match_) {
    if (!re2::RE2::PartialMatch(response.body, *regexp)) {
      return {Reason::kBodyMismatch, fmt::format("body does not match /{}/", regexp->pattern()),
              true};
    }
  }
  return {};
}

}  // namespace sre::exporters::http_probe
