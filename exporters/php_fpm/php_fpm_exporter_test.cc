#include "exporters/php_fpm/php_fpm_exporter.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "exporters/php_fpm/fake_php_fpm.h"
#include "tests/support/exporter_harness.h"
#include "tests/support/loopback_servers.h"
#include "tests/support/test_pki.h"

namespace sre::exporters::php_fpm {
namespace {

using fake::Answer;
using fake::ReadRequest;
using fake::Response;
using fake::StatusResponse;
using testing::LoopbackServer;

using fake::Testdata;

// A captured status page with another pool name.
std::string Renamed(const std::string& json, const std::string& pool) {
  return std::regex_replace(json, std::regex("\"pool\":\"[a-z]+\""), "\"pool\":\"" + pool + "\"",
                            std::regex_constants::format_first_only);
}

class PhpFpmExporterTest : public ::testing::Test, protected testing::ExporterHarness {
 protected:
  PhpFpmExporterTest() : ExporterHarness(MakePhpFpmFactory()) {}

  static std::string Uri(uint16_t port) {
    return "tcp://127.0.0.1:" + std::to_string(port) + "/status";
  }

  static std::string Series(const std::string& name, const std::string& pool,
                            const std::string& uri, const std::string& extra = "") {
    return name + "{check=\"fpm\",pool=\"" + pool + "\",scrape_uri=\"" + uri + "\"" + extra + "}";
  }

  std::unique_ptr<Exporter> MakeFor(const std::vector<std::string>& uris,
                                    const std::string& more = "") {
    std::string yaml = "check: fpm\nscrape_uri:\n";
    for (const std::string& uri : uris) yaml += "  - \"" + uri + "\"\n";
    return Make(yaml + more);
  }

  testing::TempDir dir_;
};

// Both captured pools, one over TCP and one over a unix socket, against testdata/two_pools.prom
// (durations, the port and the temp dir masked). SRE_UPDATE_GOLDEN=1 rewrites the file.
TEST_F(PhpFpmExporterTest, TwoPoolsMatchGoldenFile) {
  LoopbackServer tcp(Answer(StatusResponse(Testdata("tcp_status_json_full.body"))));
  const std::string socket = dir_.path() + "/www.sock";
  auto www = LoopbackServer::OnUnixSocket(
      Answer(StatusResponse(Testdata("www_status_json_full.body"))), socket);
  auto exporter = MakeFor({Uri(tcp.port()), "unix://" + socket + ";/status"});
  const CollectResult result = CollectOnce(*exporter);
  EXPECT_TRUE(result.success) << result.message;
  EXPECT_EQ(result.message, "2 of 2 pools up");
  ASSERT_EQ(result.observations.size(), 2u);
  EXPECT_EQ(result.observations[0].subject, "tcp");
  EXPECT_EQ(result.observations[0].message,
            "2 active, 1 idle, listen queue 0 of 4096, 0 slow, max children reached 0");

  std::string text = Text(result);
  text = std::regex_replace(text, std::regex(":" + std::to_string(tcp.port()) + "/"), ":PORT/");
  text = std::regex_replace(text, std::regex(dir_.path()), "DIR");
  ExpectGolden(MaskValues(text, "phpfpm_scrape_duration_seconds"),
               "exporters/php_fpm/testdata/two_pools.prom");
}

// The families and labels of hipages php-fpm_exporter (v2), which dashboards and alerts written
// for it select on, must all be there; ours may add more.
TEST_F(PhpFpmExporterTest, NamesAndLabelsAreASupersetOfHipages) {
  const std::map<std::string, std::set<std::string>> hipages = {
      {"phpfpm_up", {"pool", "scrape_uri"}},
      {"phpfpm_scrape_failures", {"pool", "scrape_uri"}},
      {"phpfpm_start_since", {"pool", "scrape_uri"}},
      {"phpfpm_accepted_connections", {"pool", "scrape_uri"}},
      {"phpfpm_listen_queue", {"pool", "scrape_uri"}},
      {"phpfpm_max_listen_queue", {"pool", "scrape_uri"}},
      {"phpfpm_listen_queue_length", {"pool", "scrape_uri"}},
      {"phpfpm_idle_processes", {"pool", "scrape_uri"}},
      {"phpfpm_active_processes", {"pool", "scrape_uri"}},
      {"phpfpm_total_processes", {"pool", "scrape_uri"}},
      {"phpfpm_max_active_processes", {"pool", "scrape_uri"}},
      {"phpfpm_max_children_reached", {"pool", "scrape_uri"}},
      {"phpfpm_slow_requests", {"pool", "scrape_uri"}},
      {"phpfpm_process_requests", {"pool", "child", "scrape_uri"}},
      {"phpfpm_process_last_request_memory", {"pool", "child", "scrape_uri"}},
      {"phpfpm_process_last_request_cpu", {"pool", "child", "scrape_uri"}},
      {"phpfpm_process_request_duration", {"pool", "child", "scrape_uri"}},
      {"phpfpm_process_state", {"pool", "child", "state", "scrape_uri"}},
  };
  LoopbackServer tcp(Answer(StatusResponse(Testdata("tcp_status_json_full.body"))));
  auto exporter = MakeFor({Uri(tcp.port())}, "processes: true");
  const std::string text = Text(CollectOnce(*exporter));

  // Every family's label names, over all its samples.
  std::map<std::string, std::set<std::string>> ours;
  for (const auto& [family, samples] : LabelNames(text)) {
    for (const auto& names : samples) ours[family].insert(names.begin(), names.end());
  }
  for (const auto& [family, labels] : hipages) {
    ASSERT_TRUE(ours.contains(family)) << family << " is missing";
    for (const std::string& name : labels) {
      EXPECT_TRUE(ours[family].contains(name)) << family << " has no label " << name;
    }
    EXPECT_TRUE(ours[family].contains("check")) << family;
  }
}

TEST_F(PhpFpmExporterTest, ProcessFamiliesAreOffByDefault) {
  LoopbackServer tcp(Answer(StatusResponse(Testdata("tcp_status_json_full.body"))));
  auto exporter = MakeFor({Uri(tcp.port())});
  const CollectResult result = CollectOnce(*exporter);
  const std::string text = Text(result);
  EXPECT_EQ(text.find("phpfpm_process_"), std::string::npos) << text;
  EXPECT_EQ(Value(text, Series("phpfpm_processes_by_state", "tcp", Uri(tcp.port()),
                               ",state=\"Running\"")),
            2);
  EXPECT_EQ(result.observations.size(), 1u);  // no process table either
}

// Each fault fails its own pool only, with its reason; the healthy pool is up.
TEST_F(PhpFpmExporterTest, FaultsFailOnlyTheirPool) {
  std::string unknown_record;
  AppendRecord(unknown_record, RecordType::kGetValuesResult, 0, "x");
  std::string endless_record;
  AppendRecord(endless_record, RecordType::kStdout, 1, std::string(60000, 'x'));
  LoopbackServer good(Answer(StatusResponse(Testdata("tcp_status_json.body"))));
  LoopbackServer truncated(Answer(StatusResponse(Testdata("tcp_status_json.body")).substr(0, 40)));
  LoopbackServer not_json(Answer(StatusResponse("pool: www\nprocess manager: static\n")));
  LoopbackServer missing_field(Answer(StatusResponse(R"({"pool":"www"})")));
  LoopbackServer mistyped(Answer(StatusResponse(std::regex_replace(Testdata("tcp_status_json.body"),
                                                                   std::regex("\"listen queue\":0"),
                                                                   "\"listen queue\":\"0\""))));
  LoopbackServer unknown_type(Answer(unknown_record));
  LoopbackServer not_found(Answer(Response("Status: 404 Not Found\r\n\r\nFile not found.\n")));
  LoopbackServer endless([&endless_record](int fd, LoopbackServer& server) {
    if (!ReadRequest(fd, server)) return;
    while (LoopbackServer::WriteAll(fd, endless_record)) {
    }
  });
  LoopbackServer silent(testing::handlers::Silent());
  const uint16_t refused = testing::RefusedPort();
  const std::string missing = "unix://" + dir_.path() + "/gone.sock;/status";

  struct Expect {
    std::string uri;
    Reason reason;
    std::string words;  // in the observation's message
  };
  const std::vector<Expect> faults = {
      {Uri(truncated.port()), Reason::kProtocolError, "truncated"},
      {Uri(not_json.port()), Reason::kProtocolError, "not JSON"},
      {Uri(missing_field.port()), Reason::kProtocolError, "\"process manager\" is missing"},
      {Uri(mistyped.port()), Reason::kProtocolError, "\"listen queue\" should be an integer"},
      {Uri(unknown_type.port()), Reason::kProtocolError, ""},
      {Uri(not_found.port()), Reason::kStatusMismatch, "pm.status_path"},
      {Uri(endless.port()), Reason::kBodyTooLarge, ""},
      {Uri(silent.port()), Reason::kTimeout, "waiting for the answer"},
      {Uri(refused), Reason::kConnectionRefused, ""},
      {missing, Reason::kNotPresent, ""},
  };
  std::vector<std::string> uris = {Uri(good.port())};
  for (const Expect& f : faults) uris.push_back(f.uri);
  auto exporter = MakeFor(uris);
  const CollectResult result = CollectOnce(*exporter, std::chrono::milliseconds(500));
  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.reason, Reason::kProtocolError);  // the first failing pool's
  const std::string text = Text(result);
  EXPECT_EQ(Value(text, Series("phpfpm_up", "tcp", Uri(good.port()))), 1) << text;
  EXPECT_EQ(Value(text, Series("phpfpm_scrape_failures", "tcp", Uri(good.port()))), 0);
  ASSERT_EQ(result.observations.size(), faults.size() + 1);
  for (size_t i = 0; i < faults.size(); ++i) {
    const Expect& f = faults[i];
    const Observation& o = result.observations[i + 1];
    EXPECT_EQ(Value(text, Series("phpfpm_up", "", f.uri)), 0) << f.uri;
    EXPECT_EQ(Value(text, Series("phpfpm_failure_info", "", f.uri,
                                 ",reason=\"" + std::string(ReasonName(f.reason)) + "\"")),
              1)
        << f.uri << "\n"
        << o.message;
    EXPECT_EQ(o.reason, f.reason) << f.uri << ": " << o.message;
    EXPECT_NE(o.message.find(f.words), std::string::npos) << o.message;
  }
  // Counted per pool, across runs.
  const std::string again = Text(CollectOnce(*exporter, std::chrono::milliseconds(500)));
  EXPECT_EQ(Value(again, Series("phpfpm_scrape_failures", "", Uri(refused))), 2);
  EXPECT_EQ(Value(again, Series("phpfpm_scrape_failures", "tcp", Uri(good.port()))), 0);
}

TEST_F(PhpFpmExporterTest, APoolThatWentDownKeepsItsName) {
  auto server =
      std::make_unique<LoopbackServer>(Answer(StatusResponse(Testdata("tcp_status_json.body"))));
  const std::string uri = Uri(server->port());
  auto exporter = MakeFor({uri});
  EXPECT_TRUE(CollectOnce(*exporter).success);
  server.reset();
  const std::string text = Text(CollectOnce(*exporter));
  EXPECT_EQ(Value(text, Series("phpfpm_up", "tcp", uri)), 0) << text;
  EXPECT_EQ(Value(text, Series("phpfpm_scrape_failures", "tcp", uri)), 1);
}

// While another status request holds the pool's scoreboard, php-fpm 8.2 answers 500 and older
// versions 503: worth a retry.
TEST_F(PhpFpmExporterTest, RetriesALockedScoreboard) {
  const std::string locked = Response(
      "Status: 500 Internal Server Error\r\nContent-type: text/plain\r\n\r\n"
      "Internal error. Please review log file for errors.");
  const std::string busy =
      Response("Status: 503 Service Unavailable\r\n\r\nServer busy. Please try again later.");
  const std::string ok = StatusResponse(Testdata("tcp_status_json.body"));
  LoopbackServer twice_busy([&](int fd, LoopbackServer& server) {
    if (!ReadRequest(fd, server)) return;
    LoopbackServer::WriteAll(fd, server.accepted() == 1   ? locked
                                 : server.accepted() == 2 ? busy
                                                          : ok);
  });
  auto exporter = MakeFor({Uri(twice_busy.port())});
  const CollectResult result = CollectOnce(*exporter);
  EXPECT_TRUE(result.success) << result.message;
  EXPECT_EQ(twice_busy.accepted(), 3);
  EXPECT_NE(result.observations[0].message.find("after 3 tries"), std::string::npos)
      << result.observations[0].message;

  LoopbackServer always_busy(Answer(busy));
  auto stuck = MakeFor({Uri(always_busy.port())});
  const CollectResult failed = CollectOnce(*stuck, std::chrono::milliseconds(300));
  EXPECT_EQ(failed.reason, Reason::kStatusMismatch);
  EXPECT_NE(failed.message.find("503"), std::string::npos) << failed.message;
  EXPECT_GE(always_busy.accepted(), 2);  // 20, 40, 80 ms pauses fit in 300 ms; 160 does not
  EXPECT_LE(always_busy.accepted(), 4);
}

// Pools appear and disappear with their sockets; other files are skipped, and a socket that is
// also configured is read once.
TEST_F(PhpFpmExporterTest, SocketGlobFollowsPools) {
  const std::string a = dir_.path() + "/a.sock";
  const std::string b = dir_.path() + "/b.sock";
  auto server_a = LoopbackServer::OnUnixSocket(
      Answer(StatusResponse(Renamed(Testdata("www_status_json.body"), "alpha"))), a);
  auto server_b = LoopbackServer::OnUnixSocket(
      Answer(StatusResponse(Renamed(Testdata("www_status_json.body"), "beta"))), b);
  std::ofstream(dir_.path() + "/c.sock") << "not a socket";
  const std::string uri_a = "unix://" + a + ";/status";
  const std::string uri_b = "unix://" + b + ";/status";
  auto exporter = Make("check: fpm\nscrape_uri: [\"" + uri_a + "\"]\nsocket_glob: " + dir_.path() +
                       "/*.sock\n");

  std::string text = Text(CollectOnce(*exporter));
  EXPECT_EQ(Value(text, Series("phpfpm_up", "alpha", uri_a)), 1) << text;
  EXPECT_EQ(Value(text, Series("phpfpm_up", "beta", uri_b)), 1) << text;
  EXPECT_EQ(text.find("c.sock"), std::string::npos);
  EXPECT_EQ(server_a->accepted(), 1);

  server_b.reset();
  ASSERT_EQ(unlink(b.c_str()), 0);
  const CollectResult result = CollectOnce(*exporter);
  EXPECT_TRUE(result.success) << result.message;
  text = Text(result);
  EXPECT_EQ(Value(text, Series("phpfpm_up", "alpha", uri_a)), 1);
  EXPECT_EQ(text.find("beta"), std::string::npos) << text;
}

// No socket: php-fpm is not on this node, which the agent shows as absent, not as a failure.
TEST_F(PhpFpmExporterTest, AGlobWithoutSocketsIsAbsent) {
  // The directory itself missing too (/run/php on a node without php-fpm) is the same answer.
  for (const std::string& glob : {dir_.path() + "/*.sock", dir_.path() + "/php/*.sock"}) {
    auto exporter = Make("check: fpm\nsocket_glob: " + glob + "\n");
    const CollectResult result = CollectOnce(*exporter);
    EXPECT_FALSE(result.success);
    EXPECT_EQ(result.reason, Reason::kNotPresent) << result.message;
    EXPECT_EQ(result.message, "no pool sockets match " + glob);
    EXPECT_TRUE(result.families.empty());
  }
}

TEST_F(PhpFpmExporterTest, TheProcessTableListsEveryWorker) {
  LoopbackServer tcp(Answer(StatusResponse(Testdata("tcp_status_json_full.body"))));
  auto exporter = MakeFor({Uri(tcp.port())}, "processes: true");
  const CollectResult result = CollectOnce(*exporter);
  ASSERT_EQ(result.observations.size(), 4u);
  EXPECT_EQ(result.observations[2].subject, "tcp/1");
  EXPECT_NE(result.observations[2].message.find("/srv/app/public/slow.php?ms=3000"),
            std::string::npos)
      << result.observations[2].message;
}

// The agent's scheduler reads no observations: it is not made to build one per worker.
TEST_F(PhpFpmExporterTest, TheProcessTableIsOnlyBuiltForPeople) {
  LoopbackServer tcp(Answer(StatusResponse(Testdata("tcp_status_json_full.body"))));
  env_.for_people = false;
  auto exporter = MakeFor({Uri(tcp.port())}, "processes: true");
  const CollectResult result = CollectOnce(*exporter);
  EXPECT_EQ(result.observations.size(), 1u);
  EXPECT_NE(Text(result).find("phpfpm_process_requests"), std::string::npos);
}

TEST_F(PhpFpmExporterTest, ConfigErrorsSayWhatIsExpected) {
  auto parse = [this](const std::string& yaml) {
    auto document = config::Document::FromString(yaml, "fpm.yaml");
    return factory_->Parse(document->root(), config::ParseContext("fpm.yaml")).status();
  };
  EXPECT_NE(parse("check: fpm\n").message().find("needs scrape_uri, socket_glob or both"),
            std::string::npos);
  const Status bad = parse("check: fpm\nscrape_uri: [\"http://127.0.0.1:9000/status\"]\n");
  EXPECT_NE(bad.message().find("fpm.yaml:2:"), std::string::npos) << bad.message();
  EXPECT_NE(bad.message().find("expected tcp://HOST:PORT/PATH"), std::string::npos);
  EXPECT_NE(parse("check: fpm\nscrape_uri: [\"tcp://a:1/s\", \"tcp://a:1/s\"]\n")
                .message()
                .find("listed twice"),
            std::string::npos);
  EXPECT_NE(parse("check: fpm\nsocket_glob: run/*.sock\n").message().find("absolute"),
            std::string::npos);
}

}  // namespace
}  // namespace sre::exporters::php_fpm
