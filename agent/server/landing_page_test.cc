#include "agent/server/landing_page.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sre::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr double kNow = 1'700'000'000;

CheckRow Ok(std::string check) {
  return {.exporter = "tcp",
          .check = std::move(check),
          .target = "db:5432",
          .ran = true,
          .success = true,
          .duration_seconds = 0.0123,
          .last_run_unix = kNow - 3};
}

CheckRow Failing(std::string check, std::string reason) {
  return {.exporter = "http_probe",
          .check = std::move(check),
          .target = "https://example.org/",
          .ran = true,
          .success = false,
          .reason = std::move(reason),
          .message = "dial tcp: refused",
          .duration_seconds = 1.5,
          .last_run_unix = kNow - 125};
}

CheckRow Pending(std::string check) {
  return {.exporter = "php_fpm", .check = std::move(check), .target = "unix:///run/php/fpm.sock"};
}

LandingPage Page(std::vector<CheckRow> checks) {
  return {.version = "0.1.0",
          .revision = "abcdef123456",
          .start_time_unix = kNow - (3 * 3600 + 4 * 60 + 5),
          .now_unix = kNow,
          .ready = true,
          .checks = std::move(checks),
          .config_file = "/etc/sre-agent/sre-agent.yaml"};
}

size_t Position(const std::string& html, const std::string& needle) {
  size_t at = html.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  return at;
}

TEST(HtmlEscapeTest, EscapesMarkupAndQuotes) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\" title='y'>&amp;</a>"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;");
  EXPECT_EQ(HtmlEscape("plain text, ünïcödé"), "plain text, ünïcödé");
}

TEST(FormatAgeTest, PicksTwoUnits) {
  EXPECT_EQ(FormatAge(0), "0s");
  EXPECT_EQ(FormatAge(-5), "0s");
  EXPECT_EQ(FormatAge(0.7), "0s");
  EXPECT_EQ(FormatAge(3.9), "3s");
  EXPECT_EQ(FormatAge(125), "2m 5s");
  EXPECT_EQ(FormatAge(3 * 3600 + 4 * 60 + 5), "3h 4m");
  EXPECT_EQ(FormatAge(2 * 86400 + 5 * 3600 + 7), "2d 5h");
}

TEST(LandingPageTest, IsASelfContainedMobileFriendlyDocument) {
  std::string html = RenderLandingPage(Page({Ok("a")}));
  EXPECT_THAT(html, testing::StartsWith("<!DOCTYPE html>\n"));
  EXPECT_THAT(html, HasSubstr("<title>sre-agent</title>"));
  EXPECT_THAT(
      html, HasSubstr("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
  EXPECT_THAT(html, HasSubstr("<meta charset=\"utf-8\">"));
  EXPECT_THAT(html, HasSubstr("overflow-x:auto"));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("src=")));
  EXPECT_THAT(html, Not(HasSubstr("http://")));
  EXPECT_THAT(html, Not(HasSubstr("<link")));
  EXPECT_THAT(html, HasSubstr("</html>\n"));
}

TEST(LandingPageTest, HeaderShowsVersionUptimeReadinessAndLinks) {
  LandingPage page = Page({});
  page.metrics_path = "/custom-metrics";
  std::string html = RenderLandingPage(page);
  EXPECT_THAT(html, HasSubstr("version 0.1.0 (revision abcdef123456)"));
  EXPECT_THAT(html, HasSubstr("up 3h 4m"));
  EXPECT_THAT(html, HasSubstr(">ready<"));
  EXPECT_THAT(html, HasSubstr("<a href=\"/custom-metrics\">"));
  EXPECT_THAT(html, HasSubstr("<a href=\"/-/healthy\">"));
  EXPECT_THAT(html, HasSubstr("<a href=\"/-/ready\">"));
  EXPECT_THAT(html, HasSubstr("No checks configured."));
  EXPECT_THAT(html, HasSubstr("Configuration: <code>/etc/sre-agent/sre-agent.yaml</code>"));

  page.ready = false;
  EXPECT_THAT(RenderLandingPage(page), HasSubstr(">not ready<"));
}

TEST(LandingPageTest, OnlyLocalMetricsPathsAreLinked) {
  LandingPage page = Page({});
  for (const char* path : {"javascript:alert(1)", "//evil.example/x", ""}) {
    page.metrics_path = path;
    std::string html = RenderLandingPage(page);
    EXPECT_THAT(html, Not(HasSubstr("javascript:"))) << path;
    EXPECT_THAT(html, Not(HasSubstr("evil.example"))) << path;
  }
}

TEST(LandingPageTest, EscapesEverythingFromConfigAndTargets) {
  CheckRow row = Failing("<script>alert(1)</script>", "connection_refused");
  row.exporter = "tcp\"><img>";
  row.target = "host:1&2";
  row.message = "got <b>bold</b> & 'quotes'";
  LandingPage page = Page({row});
  page.version = "<v>";
  page.revision = "<r>";
  page.config_file = "/tmp/<cfg>.yaml";
  page.last_reload_ok = false;
  page.last_reload_error = "line 3: unknown key <x>";
  page.metrics_path = "/m\"><script>";
  std::string html = RenderLandingPage(page);
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
  EXPECT_THAT(html, Not(HasSubstr("<img>")));
  EXPECT_THAT(html, Not(HasSubstr("<b>")));
  EXPECT_THAT(html, Not(HasSubstr("<x>")));
  EXPECT_THAT(html, Not(HasSubstr("<cfg>")));
  EXPECT_THAT(html, Not(HasSubstr("<v>")));
  EXPECT_THAT(html, Not(HasSubstr("<r>")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(html, HasSubstr("tcp&quot;&gt;&lt;img&gt;"));
  EXPECT_THAT(html, HasSubstr("host:1&amp;2"));
  EXPECT_THAT(html, HasSubstr("got &lt;b&gt;bold&lt;/b&gt; &amp; &#39;quotes&#39;"));
  EXPECT_THAT(html, HasSubstr("href=\"/m&quot;&gt;&lt;script&gt;\""));
}

TEST(LandingPageTest, SummaryCountsOkFailingAndPending) {
  EXPECT_THAT(RenderLandingPage(Page({Ok("a"), Failing("b", "timeout"), Ok("c")})),
              HasSubstr("3 checks: 2 ok, 1 failing</p>"));
  EXPECT_THAT(RenderLandingPage(Page({Ok("a")})), HasSubstr("1 check: 1 ok, 0 failing</p>"));
  EXPECT_THAT(RenderLandingPage(Page({Ok("a"), Pending("p"), Pending("q")})),
              HasSubstr("3 checks: 1 ok, 0 failing, 2 pending</p>"));

  std::vector<CheckRow> twelve(10, Ok("ok"));
  twelve.push_back(Failing("f1", "timeout"));
  twelve.push_back(Failing("f2", "dns_error"));
  EXPECT_THAT(RenderLandingPage(Page(twelve)), HasSubstr("12 checks: 10 ok, 2 failing</p>"));
}

// A service that is not on this node (not_present) is shown as absent: not red, not counted as
// failing, listed after the failing and pending checks.
TEST(LandingPageTest, AServiceNotPresentIsAbsent) {
  const std::string html =
      RenderLandingPage(Page({Failing("fpm", "not_present"), Ok("a"), Failing("b", "timeout")}));
  EXPECT_THAT(html, HasSubstr("3 checks: 1 ok, 1 failing, 1 absent</p>"));
  EXPECT_THAT(html, HasSubstr("<span class=\"status absent\">absent</span>"));
  EXPECT_LT(html.find(">b<"), html.find(">fpm<"));
  EXPECT_LT(html.find(">fpm<"), html.find(">a<"));
}

TEST(LandingPageTest, FailingChecksComeFirstThenPendingKeepingOrderWithinEach) {
  std::string html =
      RenderLandingPage(Page({Ok("ok-one"), Pending("pending-one"), Failing("fail-one", "timeout"),
                              Ok("ok-two"), Failing("fail-two", "dns_error")}));
  size_t fail_one = Position(html, ">fail-one<");
  size_t fail_two = Position(html, ">fail-two<");
  size_t pending = Position(html, ">pending-one<");
  size_t ok_one = Position(html, ">ok-one<");
  size_t ok_two = Position(html, ">ok-two<");
  EXPECT_LT(fail_one, fail_two);
  EXPECT_LT(fail_two, pending);
  EXPECT_LT(pending, ok_one);
  EXPECT_LT(ok_one, ok_two);
}

TEST(LandingPageTest, RowsShowStatusAsTextAndColourWithDetails) {
  std::string html = RenderLandingPage(Page({Failing("web", "connection_refused"), Ok("db")}));
  // Status in words, not only in colour.
  EXPECT_THAT(html, HasSubstr("<span class=\"status fail\">FAIL</span>"));
  EXPECT_THAT(html, HasSubstr("<span class=\"status ok\">OK</span>"));
  EXPECT_THAT(html, HasSubstr("<tr class=\"failing\">"));
  EXPECT_THAT(html, HasSubstr(">connection_refused<"));
  EXPECT_THAT(html, HasSubstr(">dial tcp: refused<"));
  EXPECT_THAT(html, HasSubstr(">1500.0 ms<"));
  EXPECT_THAT(html, HasSubstr(">12.3 ms<"));
  EXPECT_THAT(html, HasSubstr("last run 2m 5s ago"));
  EXPECT_THAT(html, HasSubstr("last run 3s ago"));
  EXPECT_THAT(html, HasSubstr("title=\"2023-11-14 22:13:17 UTC\""));  // kNow - 3.
  for (const char* column :
       {"Status", "Exporter", "Check", "Target", "Reason", "Message", "Duration", "Last run"}) {
    EXPECT_THAT(html, HasSubstr(std::string("<th>") + column + "</th>"));
  }
}

TEST(LandingPageTest, PendingChecksHaveNoResultYet) {
  std::string html = RenderLandingPage(Page({Pending("fpm-www")}));
  EXPECT_THAT(html, HasSubstr("<span class=\"status pending\">pending</span>"));
  EXPECT_THAT(html, HasSubstr("no result yet"));
  EXPECT_THAT(html, HasSubstr(">never<"));
  EXPECT_THAT(html, Not(HasSubstr(" ms<")));
  EXPECT_THAT(html, Not(HasSubstr("last run")));
}

TEST(LandingPageTest, ReloadFailureShowsABannerWithTheError) {
  LandingPage page = Page({Ok("a")});
  EXPECT_THAT(RenderLandingPage(page), Not(HasSubstr("role=\"alert\"")));
  page.last_reload_ok = false;
  page.last_reload_error =
      "sre-agent.yaml:12:3: unknown key \"intervl\" (valid: interval, timeout)";
  std::string html = RenderLandingPage(page);
  EXPECT_THAT(html, HasSubstr("role=\"alert\""));
  EXPECT_THAT(html, HasSubstr("Configuration reload failed."));
  EXPECT_THAT(html,
              HasSubstr("previous configuration from <code>/etc/sre-agent/sre-agent.yaml</code>"));
  EXPECT_THAT(html, HasSubstr("sre-agent.yaml:12:3: unknown key &quot;intervl&quot; (valid: "
                              "interval, timeout)"));
  // The banner comes before the checks.
  EXPECT_LT(Position(html, "role=\"alert\""), Position(html, "<table>"));
}

TEST(LandingPageTest, ListsRecentIncidentsEscaped) {
  CheckRow web = Failing("web", "status_mismatch");
  web.incidents = {"failing since 2026-11-28 12:14:07 UTC, 45 s so far, 127.0.0.7: timeout",
                   "failed 2026-11-28 11:58:53 to 11:59:21 UTC, 28 s, <b>: status_mismatch"};
  const std::string html = RenderLandingPage(Page({Ok("db"), web}));
  EXPECT_THAT(html, HasSubstr("<h2>Recent incidents</h2>"));
  EXPECT_THAT(html, HasSubstr("<li><strong>web</strong>: failing since 2026-11-28 12:14:07 UTC, "
                              "45 s so far, 127.0.0.7: timeout</li>"));
  EXPECT_THAT(html, HasSubstr("&lt;b&gt;: status_mismatch"));
  EXPECT_THAT(RenderLandingPage(Page({Ok("db")})), Not(HasSubstr("Recent incidents")));
}

}  // namespace
}  // namespace sre::server

namespace sre::server {
namespace {

TEST(LandingPageTest, AlertsAndReceiversAreShownEscapedWhenAlertingIsConfigured) {
  LandingPage page = Page({});
  EXPECT_THAT(RenderLandingPage(page), Not(HasSubstr("<h2 id=\"alerts\">")));

  page.alerts = {{.state = "firing",
                  .name = "TargetDown",
                  .labels = "target=\"<db>:5432\"",
                  .summary = "db is down",
                  .value = 0,
                  .since_unix = kNow - 90}};
  page.receivers = {
      {.name = "am", .type = "alertmanager", .queued = 2, .last_error = "connection_refused"}};
  const std::string html = RenderLandingPage(page);
  EXPECT_THAT(html, HasSubstr("<span class=\"status fail\">firing</span>"));
  EXPECT_THAT(html, HasSubstr("target=&quot;&lt;db&gt;:5432&quot;"));
  EXPECT_THAT(html, HasSubstr("1m 30s ago"));
  EXPECT_THAT(html, HasSubstr("<td>am</td><td>alertmanager</td><td class=\"number\">2</td>"
                              "<td class=\"nowrap\">never</td>"));
  EXPECT_THAT(html, HasSubstr("connection_refused"));
}

}  // namespace
}  // namespace sre::server
