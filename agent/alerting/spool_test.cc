#include "agent/alerting/spool.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace sre::alerting {
namespace {

namespace fs = std::filesystem;

/// A fresh directory per test, removed afterwards (made writable again first).
class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "sre-spool-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    path_ = dir_ + "/alerts/spool";
  }
  void TearDown() override {
    std::error_code ignored;
    for (const auto& entry : fs::recursive_directory_iterator(dir_, ignored)) {
      if (entry.is_directory(ignored)) fs::permissions(entry.path(), fs::perms::owner_all, ignored);
    }
    fs::remove_all(dir_, ignored);
  }

  std::unique_ptr<Spool> Open(uint64_t max_bytes = 1 << 20, SpoolLoadReport* report = nullptr,
                              const std::string& path = "") {
    auto spool = Spool::Open(path.empty() ? path_ : path, max_bytes, report);
    EXPECT_TRUE(spool.ok()) << spool.status().message();
    return spool.ok() ? std::move(spool).value() : nullptr;
  }
  static uint64_t AppendOk(Spool& spool, std::string_view receiver, std::string_view payload,
                           std::vector<SpoolEntry>* evicted = nullptr) {
    auto id = spool.Append(receiver, payload, evicted);
    EXPECT_TRUE(id.ok()) << id.status().message();
    return id.ok() ? *id : 0;
  }
  static std::string Read(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  }
  static void Write(const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
  }
  // "receiver:payload" per pending entry, in order.
  static std::vector<std::string> Contents(const Spool& spool) {
    std::vector<std::string> out;
    for (const SpoolEntry& entry : spool.Pending())
      out.push_back(entry.receiver + ":" + entry.payload);
    return out;
  }
  // A spool of three entries ("one", "two", "three"); `starts` gets each record's offset.
  std::string ThreeEntries(std::vector<uint64_t>* starts) {
    auto spool = Open();
    for (const char* payload : {R"({"n":"one"})", R"({"n":"two"})", R"({"n":"three"})"}) {
      starts->push_back(spool->file_bytes());
      AppendOk(*spool, "slack", payload);
    }
    return Read(path_);
  }
  static const std::vector<std::string>& AllThree() {
    static const std::vector<std::string> all = {R"(slack:{"n":"one"})", R"(slack:{"n":"two"})",
                                                 R"(slack:{"n":"three"})"};
    return all;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(SpoolTest, ReopenKeepsPendingAndDropsAcked) {
  {
    auto spool = Open();
    const uint64_t a = AppendOk(*spool, "am", "a");
    const uint64_t b = AppendOk(*spool, "slack", "b");
    AppendOk(*spool, "pagerduty", "c");
    EXPECT_TRUE(spool->Ack(b).ok());
    EXPECT_TRUE(spool->Ack(b).ok());    // twice: a no-op
    EXPECT_TRUE(spool->Ack(999).ok());  // unknown: a no-op
    EXPECT_EQ(Contents(*spool), (std::vector<std::string>{"am:a", "pagerduty:c"}));
    EXPECT_EQ(spool->Pending().front().id, a);
    EXPECT_EQ(fs::status(dir_ + "/alerts").permissions(), fs::perms::owner_all);
    EXPECT_EQ(fs::status(path_).permissions(), fs::perms::owner_read | fs::perms::owner_write);
  }
  SpoolLoadReport report;
  auto spool = Open(1 << 20, &report);
  EXPECT_EQ(Contents(*spool), (std::vector<std::string>{"am:a", "pagerduty:c"}));
  EXPECT_EQ(report.entries, 2u);
  EXPECT_EQ(report.corrupt_regions, 0u);
  EXPECT_FALSE(report.truncated_tail);
  EXPECT_EQ(report.Describe(), "recovered 2 pending notifications");
  EXPECT_EQ(spool->path(), path_);
}

TEST_F(SpoolTest, IdsResumeAfterEverythingWasAckedAndCompacted) {
  {
    auto spool = Open();
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(spool->Ack(AppendOk(*spool, "am", "x")).ok());
  }
  auto spool = Open();
  EXPECT_TRUE(spool->Pending().empty());
  EXPECT_EQ(AppendOk(*spool, "am", "y"), 4u);
  spool.reset();
  EXPECT_EQ(AppendOk(*Open(), "am", "z"), 5u);
}

TEST_F(SpoolTest, AppendEvictsTheOldestAtTheBound) {
  uint64_t record = 0;
  {
    auto probe = Open(1 << 20, nullptr, dir_ + "/probe");
    AppendOk(*probe, "am", "0123456789");
    record = probe->pending_bytes();  // one record of this size
  }
  auto spool = Open(3 * record);
  std::vector<SpoolEntry> evicted;
  for (const char* payload : {"0000000000", "1111111111", "2222222222"}) {
    AppendOk(*spool, "am", payload, &evicted);
  }
  EXPECT_TRUE(evicted.empty());
  EXPECT_EQ(AppendOk(*spool, "am", "3333333333", &evicted), 4u);
  ASSERT_EQ(evicted.size(), 1u);
  EXPECT_EQ(evicted[0].id, 1u);
  EXPECT_EQ(evicted[0].payload, "0000000000");
  EXPECT_EQ(spool->pending_bytes(), 3 * record);
  // A bigger one evicts as many as it needs.
  evicted.clear();
  AppendOk(*spool, "am", std::string(record + 5, 'x'), &evicted);
  EXPECT_EQ(evicted.size(), 2u);
  EXPECT_LE(spool->pending_bytes(), 3 * record);
  const auto pending = Contents(*spool);
  spool.reset();
  EXPECT_EQ(Contents(*Open(3 * record)), pending);  // the evictions were acked in the file
}

TEST_F(SpoolTest, AnEntryLargerThanTheSpoolIsRefused) {
  auto spool = Open(100);
  const uint64_t before = spool->file_bytes();
  auto id = spool->Append("am", std::string(100, 'x'), nullptr);
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.status().message().find(path_), std::string::npos) << id.status().message();
  EXPECT_NE(id.status().message().find("over the spool's limit of 100"), std::string::npos);
  EXPECT_EQ(spool->file_bytes(), before);
  EXPECT_TRUE(spool->Pending().empty());
  EXPECT_FALSE(spool->Append(std::string(70000, 'r'), "", nullptr).ok());  // receiver too long
  EXPECT_TRUE(spool->Append("am", std::string(100 - 16 - 10 - 2, 'x'), nullptr).ok());  // fits
}

TEST_F(SpoolTest, ATornLastRecordLeavesTheEarlierOnes) {
  std::vector<uint64_t> starts;
  const std::string full = ThreeEntries(&starts);
  for (size_t cut = starts[2] + 1; cut < full.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    Write(path_, full.substr(0, cut));
    SpoolLoadReport report;
    auto spool = Open(1 << 20, &report);
    EXPECT_EQ(Contents(*spool), std::vector<std::string>(AllThree().begin(), AllThree().end() - 1));
    EXPECT_TRUE(report.truncated_tail);
    EXPECT_EQ(report.corrupt_regions, 0u);
    EXPECT_EQ(report.bytes_skipped, cut - starts[2]);
    spool.reset();
    Open(1 << 20, &report);  // the rewrite dropped the torn bytes
    EXPECT_FALSE(report.truncated_tail);
  }
  Write(path_, full.substr(0, starts[2]));  // cut between records: nothing torn
  SpoolLoadReport report;
  Open(1 << 20, &report);
  EXPECT_FALSE(report.truncated_tail);
  EXPECT_EQ(report.entries, 2u);
}

TEST_F(SpoolTest, ACorruptMiddleRecordIsSkippedAlone) {
  std::vector<uint64_t> starts;
  const std::string full = ThreeEntries(&starts);
  // Every byte of the middle record, header and body: magic, type, length, CRC, id, payload.
  for (size_t at = starts[1]; at < starts[2]; ++at) {
    SCOPED_TRACE("flipped byte " + std::to_string(at));
    std::string flipped = full;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x20);
    Write(path_, flipped);
    SpoolLoadReport report;
    auto spool = Open(1 << 20, &report);
    EXPECT_EQ(Contents(*spool), (std::vector<std::string>{AllThree()[0], AllThree()[2]}));
    EXPECT_EQ(report.corrupt_regions, 1u);
    EXPECT_EQ(report.bytes_skipped, starts[2] - starts[1]);
    EXPECT_FALSE(report.truncated_tail);
  }
  SpoolLoadReport report;
  Open(1 << 20, &report);
  EXPECT_EQ(report.corrupt_regions, 0u);  // compacted away on the last open
}

TEST_F(SpoolTest, GarbageAroundTheRecordsIsSkipped) {
  std::vector<uint64_t> starts;
  const std::string full = ThreeEntries(&starts);
  const std::string before = "#!/bin/sh\nrm -rf /\n", after = std::string(517 - before.size(), 0);
  Write(path_, before + full + after);
  SpoolLoadReport report;
  auto spool = Open(1 << 20, &report);
  EXPECT_EQ(Contents(*spool), AllThree());
  EXPECT_EQ(report.corrupt_regions, 2u);
  EXPECT_EQ(report.bytes_skipped, 517u);
  EXPECT_FALSE(report.truncated_tail);
  EXPECT_EQ(report.Describe(),
            "recovered 3 pending notifications; skipped 2 corrupt regions (517 bytes)");
  // Bytes after the last record that start like one are a torn write, after garbage or not.
  spool.reset();
  Write(path_, full + "junk" + full.substr(starts[1], 7));
  Open(1 << 20, &report);
  EXPECT_EQ(report.entries, 3u);
  EXPECT_EQ(report.corrupt_regions, 1u);
  EXPECT_TRUE(report.truncated_tail);
  EXPECT_EQ(report.bytes_skipped, 11u);
  EXPECT_EQ(report.Describe(),
            "recovered 3 pending notifications; skipped 1 corrupt region and a torn last record "
            "(11 bytes)");
}

TEST_F(SpoolTest, OpenCompactsTheFile) {
  std::vector<uint64_t> ids;
  {
    auto spool = Open();
    for (int i = 0; i < 10; ++i) ids.push_back(AppendOk(*spool, "webhook", std::string(1000, 'p')));
    for (int i = 0; i < 8; ++i) EXPECT_TRUE(spool->Ack(ids[i]).ok());
  }
  const uint64_t before = fs::file_size(path_);
  auto spool = Open();
  EXPECT_EQ(spool->Pending().size(), 2u);
  EXPECT_LT(fs::file_size(path_), before / 4);
  EXPECT_EQ(fs::file_size(path_), spool->file_bytes());
  EXPECT_EQ(spool->file_bytes(), spool->pending_bytes() + 24);  // + the last-id record
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
}

TEST_F(SpoolTest, TheFileStaysBoundedUnderAppendsAndAcks) {
  for (const uint64_t max_bytes : {uint64_t{4} << 10, uint64_t{64} << 10}) {
    SCOPED_TRACE("max_bytes " + std::to_string(max_bytes));
    fs::remove(path_);
    auto spool = Open(max_bytes);
    size_t compactions = 0, evictions = 0;
    for (int i = 0; i < 600; ++i) {
      const uint64_t before = spool->file_bytes();
      const size_t size = 20 + (i * 7919) % 700;  // deterministic, varied sizes
      std::vector<SpoolEntry> evicted;
      const uint64_t id = AppendOk(*spool, "am", std::string(size, 'v'), &evicted);
      evictions += evicted.size();
      // Ack with a lag, sometimes out of order, sometimes never: pending stays mixed.
      if (i % 3 != 0) {
        ASSERT_TRUE(spool->Ack(id - 2).ok());
      }
      if (i % 5 == 0) {
        ASSERT_TRUE(spool->Ack(id).ok());
      }
      compactions += spool->file_bytes() < before;
      ASSERT_LE(spool->pending_bytes(), max_bytes);
      ASSERT_LE(spool->file_bytes(), 2 * max_bytes + 24);
      ASSERT_EQ(spool->file_bytes(), fs::file_size(path_));
      ASSERT_TRUE(spool->compaction_status().ok()) << spool->compaction_status().message();
    }
    EXPECT_GE(compactions, 2u);  // the file did shrink
    if (max_bytes < 8192) {
      EXPECT_GT(evictions, 0u);
    }
    const auto pending = Contents(*spool);
    spool.reset();
    EXPECT_EQ(Contents(*Open(max_bytes)), pending);
  }
}

TEST_F(SpoolTest, ALowerMaxBytesEvictsTheOldestOnOpen) {
  {
    auto spool = Open();
    for (int i = 0; i < 5; ++i) AppendOk(*spool, "am", std::string(100, 'a' + i));
  }
  SpoolLoadReport report;
  auto spool = Open(300, &report);
  EXPECT_EQ(report.entries, 2u);
  ASSERT_EQ(report.evicted.size(), 3u);
  EXPECT_EQ(report.evicted[0].id, 1u);
  EXPECT_EQ(report.Describe(),
            "recovered 2 pending notifications; dropped the 3 oldest, over max_bytes");
  EXPECT_LE(spool->pending_bytes(), 300u);
}

TEST_F(SpoolTest, OpenFailsUnderAParentThatIsAFile) {
  Write(dir_ + "/file", "x");
  for (const std::string& path : {dir_ + "/file/spool", dir_ + "/file/sub/spool"}) {
    auto spool = Spool::Open(path, 1 << 20, nullptr);
    ASSERT_FALSE(spool.ok()) << path;
    EXPECT_NE(spool.status().message().find("spool " + path + ": "), std::string::npos)
        << spool.status().message();
    EXPECT_NE(spool.status().message().find("Not a directory"), std::string::npos)
        << spool.status().message();
  }
}

TEST_F(SpoolTest, OpenFailsUnderAParentItCannotWrite) {
  std::string path = dir_ + "/readonly/spool";
  fs::create_directory(dir_ + "/readonly");
  fs::permissions(dir_ + "/readonly", fs::perms::owner_read | fs::perms::owner_exec);
  // Root writes through any mode; sysfs refuses new entries even to root.
  if (geteuid() == 0) path = "/sys/sre-spool-test/spool";
  auto spool = Spool::Open(path, 1 << 20, nullptr);
  ASSERT_FALSE(spool.ok());
  EXPECT_NE(spool.status().message().find("spool " + path + ": "), std::string::npos)
      << spool.status().message();
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(SpoolTest, AFileThatIsNotASpoolIsNotOverwritten) {
  fs::create_directories(dir_ + "/alerts");
  Write(path_, "important: do not lose\n");
  auto spool = Spool::Open(path_, 1 << 20, nullptr);
  ASSERT_FALSE(spool.ok());
  EXPECT_NE(spool.status().message().find("not a spool file"), std::string::npos);
  EXPECT_EQ(Read(path_), "important: do not lose\n");
  EXPECT_FALSE(Spool::Open(dir_, 1 << 20, nullptr).ok());  // a directory
}

}  // namespace
}  // namespace sre::alerting

namespace sre::alerting {
namespace {

// Two agents on one spool would interleave and compact away each other's records: the second
// is refused while the first holds it, and gets it once the first is gone.
TEST(SpoolLockTest, ASecondOpenOfTheSamePathIsRefusedWhileTheFirstHoldsIt) {
  std::string templ = (std::filesystem::temp_directory_path() / "sre-spool-XXXXXX").string();
  ASSERT_NE(::mkdtemp(templ.data()), nullptr);
  const std::string path = templ + "/spool";
  {
    auto first = Spool::Open(path, 1 << 20, nullptr);
    ASSERT_TRUE(first.ok()) << first.status().message();
    auto second = Spool::Open(path, 1 << 20, nullptr);
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.status().message().find("in use by another process"), std::string::npos)
        << second.status().message();
  }
  EXPECT_TRUE(Spool::Open(path, 1 << 20, nullptr).ok());
  std::filesystem::remove_all(templ);
}

}  // namespace
}  // namespace sre::alerting
