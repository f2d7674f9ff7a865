#include "exporters/postfix/log_follower.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "tests/support/test_pki.h"

namespace sre::exporters::postfix {
namespace {

class LogFollowerTest : public ::testing::Test {
 protected:
  void Append(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::app) << text;
  }

  std::vector<std::string> Read(FileFollower& follower, size_t max_bytes = 1 << 20) {
    std::vector<std::string> lines;
    const Status s =
        follower.ReadNew(max_bytes, [&](std::string_view line) { lines.emplace_back(line); });
    EXPECT_TRUE(s.ok()) << s.message();
    return lines;
  }

  using Lines = std::vector<std::string>;
  testing::TempDir dir_;
  std::string log_ = dir_.path() + "/mail.log";
};

TEST_F(LogFollowerTest, StartsAtTheEndUnlessAsked) {
  Append(log_, "old 1\nold 2\n");
  FileFollower tail(log_, false);
  EXPECT_EQ(Read(tail), Lines{});
  Append(log_, "new\n");
  EXPECT_EQ(Read(tail), Lines{"new"});

  FileFollower whole(log_, true);
  EXPECT_EQ(Read(whole), (Lines{"old 1", "old 2", "new"}));
}

TEST_F(LogFollowerTest, AnUnfinishedLineWaitsForItsEnd) {
  FileFollower follower(log_, true);
  Append(log_, "");
  Append(log_, "first half");
  EXPECT_EQ(Read(follower), Lines{});
  Append(log_, ", second half\n");
  EXPECT_EQ(Read(follower), Lines{"first half, second half"});
}

// logrotate's default: rename, then the logger reopens the path. Lines the logger wrote to the
// old file before it reopened are read too; none is read twice.
TEST_F(LogFollowerTest, RenameRotationLosesNothing) {
  Append(log_, "1\n2\n");
  FileFollower follower(log_, true);
  EXPECT_EQ(Read(follower), (Lines{"1", "2"}));
  Append(log_, "3\n");
  std::filesystem::rename(log_, log_ + ".1");
  Append(log_ + ".1", "4\n");  // the logger still has the old file open
  Append(log_, "5\n");         // a new file at the path
  EXPECT_EQ(Read(follower), (Lines{"3", "4", "5"}));
  Append(log_ + ".1", "6\n");  // written just before the logger reopened
  Append(log_, "7\n");
  EXPECT_EQ(Read(follower), (Lines{"6", "7"}));
  Append(log_, "8\n");
  EXPECT_EQ(Read(follower), (Lines{"8"}));
  EXPECT_EQ(follower.stats().rotations, 1u);
  EXPECT_EQ(follower.stats().lines, 8u);
}

// copytruncate: what was written after the last read and before the truncation is lost; the
// truncation is counted and reading goes on from the start.
TEST_F(LogFollowerTest, CopytruncateIsCounted) {
  Append(log_, "1\n2\n");
  FileFollower follower(log_, true);
  EXPECT_EQ(Read(follower), (Lines{"1", "2"}));
  Append(log_, "3\n");
  std::filesystem::resize_file(log_, 0);
  Append(log_, "4\n");
  EXPECT_EQ(Read(follower), Lines{"4"});
  EXPECT_EQ(follower.stats().truncations, 1u);
}

TEST_F(LogFollowerTest, LongLinesAreDroppedAndCounted) {
  FileFollower follower(log_, true, 100);
  Append(log_, "short\n" + std::string(250, 'x') + "\nafter\n");
  EXPECT_EQ(Read(follower, 64), (Lines{"short"}));  // 64 bytes a run: the backlog waits
  EXPECT_EQ(Read(follower), (Lines{"after"}));
  EXPECT_EQ(follower.stats().long_lines, 1u);
}

TEST_F(LogFollowerTest, AMissingFileIsAnErrorUntilItAppears) {
  FileFollower follower(log_, false);
  const Status missing = follower.ReadNew(1 << 20, [](std::string_view) {});
  EXPECT_NE(missing.message().find("does not exist"), std::string::npos) << missing.message();
  Append(log_, "first\n");  // created after start-up: read from its start
  EXPECT_EQ(Read(follower), Lines{"first"});
}

TEST(CriDecoderTest, JoinsPartialRecords) {
  std::vector<std::string> lines;
  CriDecoder decode([&](std::string_view line) { lines.emplace_back(line); });
  decode("2026-11-27T21:36:41.1Z stdout P Nov 27 mx postfix/smtpd[1]: con");
  decode("2026-11-27T21:36:41.2Z stdout F nect from x");
  decode("2026-11-27T21:36:41.3Z stderr F whole");
  decode("2026-11-27T21:36:41.4Z stdout F");
  decode("not a CRI record");
  EXPECT_EQ(lines, (std::vector<std::string>{"Nov 27 mx postfix/smtpd[1]: connect from x", "whole",
                                             "", "not a CRI record"}));
}

// A line reassembled past the limit is dropped whole, never passed on with a piece missing.
TEST(CriDecoderTest, ALineOverTheLimitIsDroppedWhole) {
  std::vector<std::string> lines;
  CriDecoder decode([&](std::string_view line) { lines.emplace_back(line); }, 10);
  decode("t stdout P 12345678");
  decode("t stdout P 123");  // past 10 bytes: the line is dropped
  decode("t stdout P 1");    // would fit again: still the same line, still dropped
  decode("t stdout F 2");
  decode("t stdout P 12345");
  decode("t stdout F 67890x");  // the last piece takes it past the limit
  decode("t stdout F whole");
  EXPECT_EQ(lines, std::vector<std::string>{"whole"});
}

TEST(GlobFollowerTest, FilesFoundLaterAreReadWhole) {
  testing::TempDir dir;
  std::ofstream(dir.path() + "/a.log") << "a old\n";
  GlobFollower pods(dir.path() + "/*.log", false);
  std::vector<std::string> lines;
  auto sink_for = [&](const std::string& path) -> LineSink {
    const std::string name = std::filesystem::path(path).filename();
    return
        [&lines, name](std::string_view line) { lines.push_back(name + ": " + std::string(line)); };
  };
  ASSERT_TRUE(pods.ReadNew(1 << 20, sink_for).ok());
  std::ofstream(dir.path() + "/a.log", std::ios::app) << "a new\n";
  std::ofstream(dir.path() + "/b.log") << "b first\n";
  ASSERT_TRUE(pods.ReadNew(1 << 20, sink_for).ok());
  EXPECT_EQ(lines, (std::vector<std::string>{"a.log: a new", "b.log: b first"}));
  std::filesystem::remove(dir.path() + "/a.log");
  ASSERT_TRUE(pods.ReadNew(1 << 20, sink_for).ok());
  EXPECT_EQ(pods.files(), 1u);
  EXPECT_EQ(pods.stats().lines, 2u);
}

}  // namespace
}  // namespace sre::exporters::postfix
