#include "exporters/postfix/showq.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

#include "tests/support/source_files.h"

namespace sre::exporters::postfix {
namespace {

using namespace std::string_literals;

// A file of testdata/; *.gz files are decompressed.
std::string Testdata(const std::string& name) {
  const std::string relative = "exporters/postfix/testdata/" + name;
  if (!name.ends_with(".gz")) return testing::ReadSourceFile(relative);
  const std::string path = testing::SourcePath(relative);
  gzFile file = gzopen(path.c_str(), "rb");
  EXPECT_NE(file, nullptr) << path;
  std::string out;
  char buffer[65536];
  for (int n; file && (n = gzread(file, buffer, sizeof buffer)) > 0;) out.append(buffer, n);
  if (file) gzclose(file);
  return out;
}

// What `postqueue -j` said of the same queue: per queue, messages, bytes and the oldest arrival.
struct Reference {
  std::map<std::string, uint64_t> messages;
  std::map<std::string, double> bytes;
  std::map<std::string, double> oldest;
};

Reference FromPostqueueJson(const std::string& jsonl) {
  Reference r;
  std::istringstream lines(jsonl);
  auto number = [](const std::string& line, const std::string& key) {
    return std::stod(line.substr(line.find(key) + key.size()));
  };
  for (std::string line; std::getline(lines, line);) {
    const std::string key = "\"queue_name\": \"";
    const size_t at = line.find(key) + key.size();
    const std::string queue = line.substr(at, line.find('"', at) - at);
    ++r.messages[queue];
    r.bytes[queue] += number(line, "\"message_size\": ");
    const double arrival = number(line, "\"arrival_time\": ");
    if (!r.oldest.contains(queue) || arrival < r.oldest[queue]) r.oldest[queue] = arrival;
  }
  return r;
}

constexpr double kNow = 1795820000;  // after every arrival in the captured queues

void ExpectMatches(const ShowqParser& parser, const Reference& reference) {
  ASSERT_EQ(parser.state(), ShowqParser::State::kComplete) << parser.error();
  for (const auto& [queue, stats] : parser.queues()) {
    const uint64_t expected = reference.messages.contains(queue) ? reference.messages.at(queue) : 0;
    EXPECT_EQ(stats.messages, expected) << queue;
    if (expected == 0) continue;
    EXPECT_EQ(stats.size.ToMetric().sample_sum, reference.bytes.at(queue)) << queue;
    EXPECT_EQ(stats.oldest_arrival, reference.oldest.at(queue)) << queue;
    EXPECT_EQ(stats.age.ToMetric().sample_count, expected) << queue;
  }
  for (const auto& [queue, count] : reference.messages) {
    EXPECT_TRUE(parser.queues().contains(queue)) << queue << " is missing";
  }
}

ShowqParser ParseWhole(std::string_view bytes) {
  ShowqParser parser(kNow);
  parser.Feed(bytes);
  parser.FeedEof();
  return parser;
}

TEST(ShowqTest, CapturedStreamsMatchPostqueue) {
  for (const auto& [stream, listing] :
       {std::pair{"showq_raw_small.bin", "postqueue_j_small.jsonl"},
        std::pair{"showq_raw_N1000.bin.gz", "postqueue_j_N1000.jsonl.gz"}}) {
    SCOPED_TRACE(stream);
    const ShowqParser parser = ParseWhole(Testdata(stream));
    EXPECT_EQ(parser.format(), ShowqParser::Format::kAttr0);
    ExpectMatches(parser, FromPostqueueJson(Testdata(listing)));
  }
  // All five of Postfix 3's queues are there, empty or not.
  const ShowqParser parser = ParseWhole(Testdata("showq_raw_small.bin"));
  for (std::string_view queue : kQueues) EXPECT_TRUE(parser.queues().contains(queue)) << queue;
  EXPECT_EQ(parser.queues().at("deferred").messages + parser.queues().at("hold").messages,
            parser.messages());
}

// The stream arrives in pieces of any size, down to single bytes.
TEST(ShowqTest, PiecesGiveTheSameFigures) {
  const std::string stream = Testdata("showq_raw_small.bin");
  const Reference reference = FromPostqueueJson(Testdata("postqueue_j_small.jsonl"));
  std::mt19937 random(7);
  for (size_t max_piece : {size_t{1}, size_t{3}, size_t{127}, size_t{4096}}) {
    SCOPED_TRACE(max_piece);
    ShowqParser parser(kNow);
    for (size_t at = 0; at < stream.size();) {
      const size_t n = std::min(stream.size() - at, 1 + random() % max_piece);
      parser.Feed(std::string_view(stream).substr(at, n));
      at += n;
    }
    parser.FeedEof();
    ExpectMatches(parser, reference);
  }
}

TEST(ShowqTest, AnEmptyQueue) {
  const ShowqParser parser = ParseWhole("protocol\0mail_queue_list_protocol\0\0\0"s);
  ASSERT_EQ(parser.state(), ShowqParser::State::kComplete) << parser.error();
  EXPECT_EQ(parser.messages(), 0u);
  EXPECT_EQ(parser.queues().size(), kQueues.size());
}

// Postfix 2's listing, as mailq prints it: `*` active, `!` hold, the rest "other".
TEST(ShowqTest, TheTextListing) {
  const ShowqParser parser = ParseWhole(Testdata("postqueue_p_small.txt"));
  ASSERT_EQ(parser.state(), ShowqParser::State::kComplete) << parser.error();
  EXPECT_EQ(parser.format(), ShowqParser::Format::kText);
  const Reference reference = FromPostqueueJson(Testdata("postqueue_j_small.jsonl"));
  EXPECT_EQ(parser.queues().at("hold").messages, reference.messages.at("hold"));
  EXPECT_EQ(parser.queues().at("other").messages, reference.messages.at("deferred"));
  EXPECT_EQ(parser.queues().at("active").messages, 0u);
  EXPECT_EQ(parser.queues().at("hold").size.ToMetric().sample_sum, reference.bytes.at("hold"));
}

TEST(ShowqTest, LongQueueIdsInBothFormats) {
  // enable_long_queue_ids = yes: IDs of up to 16 base-52 characters, then the marker.
  const std::string text =
      "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
      "4Qk1Vx3bGzz9vRd!    1234 Fri Nov 27 21:54:02  sender@example.com\n"
      "                                         rcpt@example.com\n\n"
      "4Qk1Vx3bH0z9vRx*     100 Fri Nov 27 21:54:02  sender@example.com\n"
      "-- 1 Kbytes in 2 Requests.\n";
  const ShowqParser listing = ParseWhole(text);
  EXPECT_EQ(listing.queues().at("hold").messages, 1u);
  EXPECT_EQ(listing.queues().at("active").messages, 1u);

  const std::string attr0 =
      "protocol\0mail_queue_list_protocol\0\0queue_name\0hold\0queue_id\0"
      "4Qk1Vx3bGzz9vRd\0"
      "time\0"
      "1795816442\0size\0"
      "1234\0sender\0\0recipient\0r@example.com\0\0\0"s;
  const ShowqParser stream = ParseWhole(attr0);
  ASSERT_EQ(stream.state(), ShowqParser::State::kComplete) << stream.error();
  EXPECT_EQ(stream.queues().at("hold").messages, 1u);  // the empty sender is a value
}

TEST(ShowqTest, BadStreamsAreErrorsThatSayWhat) {
  const std::string good = Testdata("showq_raw_small.bin");
  std::string bad_size = good;
  bad_size.replace(bad_size.find("size\0"
                                 "761"s),
                   8,
                   "size\0"
                   "7x1"s);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "without sending anything"},
      {good.substr(0, good.size() - 1), "truncated"},
      {good.substr(0, good.size() / 2), "truncated"},
      {bad_size, "size \"7x1\" is not a number"},
      {"protocol\0"s + std::string(100000, 'x'), "longer than"},
  };
  for (const auto& [stream, message] : cases) {
    ShowqParser parser(kNow, ShowqLimits{.max_field_bytes = 4096});
    parser.Feed(stream);
    parser.FeedEof();
    ASSERT_EQ(parser.state(), ShowqParser::State::kError) << message;
    EXPECT_EQ(parser.reason(), Reason::kProtocolError);
    EXPECT_NE(parser.error().find(message), std::string::npos) << parser.error();
  }
}

TEST(ShowqTest, UnknownQueuesAreCountedUnderTheirName) {
  const ShowqParser parser = ParseWhole(
      "queue_name\0corrupt\0time\0"
      "1795816442\0size\0"
      "10\0\0\0"s);
  ASSERT_EQ(parser.state(), ShowqParser::State::kComplete) << parser.error();
  EXPECT_EQ(parser.queues().at("corrupt").messages, 1u);
}

}  // namespace
}  // namespace sre::exporters::postfix
