#include "agent/net/line_matcher.h"

#include <gtest/gtest.h>

namespace sre::net {
namespace {

using Verdict = LineMatcher::Verdict;

TEST(LineMatcherTest, MatchesALineThatArrivesInPieces) {
  const re2::RE2 banner("^220 ");
  LineMatcher lines;
  lines.Append("22");
  EXPECT_EQ(lines.Next(banner), Verdict::kNeedMore);
  lines.Append("0 ready\r");
  EXPECT_EQ(lines.Next(banner), Verdict::kNeedMore);  // no newline yet
  lines.Append("\n");
  EXPECT_EQ(lines.Next(banner), Verdict::kMatched);
}

TEST(LineMatcherTest, ConsumesUpToTheMatchAndKeepsWhatFollows) {
  const re2::RE2 first("^a"), second("^c");
  LineMatcher lines;
  lines.Append("x\na1\nb\nc1\n");
  EXPECT_EQ(lines.Next(first), Verdict::kMatched);   // consumes "x", "a1"
  EXPECT_EQ(lines.Next(second), Verdict::kMatched);  // consumes "b", "c1"
  EXPECT_EQ(lines.Next(first), Verdict::kNeedMore);  // nothing left
  lines.Append("a2\n");
  EXPECT_EQ(lines.Next(first), Verdict::kMatched);
}

TEST(LineMatcherTest, MatchesAnywhereInTheLineLikeGo) {
  LineMatcher lines;
  lines.Append("+OK POP3 ready\n");
  EXPECT_EQ(lines.Next(re2::RE2("POP3")), Verdict::kMatched);
}

TEST(LineMatcherTest, LastLineWithoutNewlineCountsAtEof) {
  LineMatcher lines;
  lines.Append("SSH-2.0-OpenSSH");
  EXPECT_EQ(lines.Next(re2::RE2("^SSH-2")), Verdict::kNeedMore);
  lines.SetEof();
  EXPECT_EQ(lines.Next(re2::RE2("^SSH-2")), Verdict::kMatched);
}

TEST(LineMatcherTest, EofWithoutAMatchIsNoMatch) {
  LineMatcher lines;
  lines.Append("garbage\nmore\n");
  EXPECT_EQ(lines.Next(re2::RE2("^220")), Verdict::kNeedMore);
  lines.SetEof();
  EXPECT_EQ(lines.Next(re2::RE2("^220")), Verdict::kNoMatch);
}

TEST(LineMatcherTest, EndlessLineIsCutOff) {
  LineMatcher lines;
  lines.Append(std::string(LineMatcher::kMaxLineBytes, 'x'));
  EXPECT_EQ(lines.Next(re2::RE2("y")), Verdict::kNeedMore);
  lines.Append("x");
  EXPECT_EQ(lines.Next(re2::RE2("y")), Verdict::kLineTooLong);
  LineMatcher complete;
  complete.Append(std::string(LineMatcher::kMaxLineBytes + 1, 'x') + "\n");
  EXPECT_EQ(complete.Next(re2::RE2("y")), Verdict::kLineTooLong);
}

}  // namespace
}  // namespace sre::net
