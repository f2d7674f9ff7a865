#include "exporters/http_probe/response_rules.h"

#include <gtest/gtest.h>

namespace sre::exporters::http_probe {
namespace {

const std::vector<std::pair<std::string, std::string>> kHeaders = {
    {"Content-Type", "text/html"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "session=2"}};

Verdict Judge(const HttpOptions& options, long status, std::string_view body = "") {
  return ResponseRules(options).Evaluate({status, "HTTP/1.1", false, &kHeaders, body});
}

TEST(ResponseRulesTest, StatusDefaultsToAny2xx) {
  HttpOptions options;
  EXPECT_EQ(Judge(options, 204).reason, Reason::kNone);
  EXPECT_EQ(Judge(options, 302).reason, Reason::kStatusMismatch);
  options.valid_status_codes = {200, 302};
  EXPECT_EQ(Judge(options, 302).reason, Reason::kNone);
  EXPECT_EQ(Judge(options, 204).reason, Reason::kStatusMismatch);
}

TEST(ResponseRulesTest, HeaderRulesLookAtEveryValueCaseInsensitively) {
  HttpOptions options;
  options.fail_if_header_matches = {{"set-cookie", "^session=", false}};
  EXPECT_EQ(Judge(options, 200).reason, Reason::kHeaderMismatch);
  options.fail_if_header_matches = {{"X-Missing", ".*", true}};
  EXPECT_EQ(Judge(options, 200).reason, Reason::kNone);
  options.fail_if_header_matches = {};
  options.fail_if_header_not_matches = {{"content-type", "^text/", false}};
  EXPECT_EQ(Judge(options, 200).reason, Reason::kNone);
  options.fail_if_header_not_matches = {{"X-Missing", ".*", false}};
  const Verdict verdict = Judge(options, 200);
  EXPECT_EQ(verdict.reason, Reason::kHeaderMismatch);
  EXPECT_TRUE(verdict.failed_due_to_regex);
  EXPECT_EQ(verdict.message, "header X-Missing is missing");
}

TEST(ResponseRulesTest, BodyRules) {
  HttpOptions options;
  options.fail_if_body_not_matches_regexp = {"\"status\":\\s*\"up\""};
  ResponseRules rules(options);
  EXPECT_TRUE(rules.needs_body());
  EXPECT_EQ(Judge(options, 200, R"({"status": "up"})").reason, Reason::kNone);
  EXPECT_EQ(Judge(options, 200, R"({"status": "down"})").reason, Reason::kBodyMismatch);
  EXPECT_FALSE(ResponseRules(HttpOptions{}).needs_body());
}

TEST(ResponseRulesTest, VersionsAcceptBothSpellingsOfHttp2) {
  HttpOptions options;
  options.valid_http_versions = {"HTTP/2"};
  EXPECT_EQ(ResponseRules(options).Evaluate({200, "HTTP/2.0", true, &kHeaders, ""}).reason,
            Reason::kNone);
  EXPECT_EQ(ResponseRules(options).Evaluate({200, "HTTP/1.1", true, &kHeaders, ""}).reason,
            Reason::kProtocolError);
}

}  // namespace
}  // namespace sre::exporters::http_probe
