#include "agent/net/line_matcher.h"

namespace sre::net {
namespace {

bool Matches(std::string_view line, const re2::RE2& expect) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return re2::RE2::PartialMatch(line, expect);
}

}  // namespace

LineMatcher::Verdict LineMatcher::Next(const re2::RE2& expect) {
  size_t pos = 0;
  bool matched = false;
  Verdict verdict = Verdict::kNeedMore;
  while (!matched) {
    const size_t newline = buffer_.find('\n', pos);
    if (newline == std::string::npos) break;
    const std::string_view line(buffer_.data() + pos, newline - pos);
    pos = newline + 1;
    if (line.size() > kMaxLineBytes) return Verdict::kLineTooLong;
    matched = Matches(line, expect);
  }
  // Drop consumed lines; what stays is at most one partial line (and what follows a match).
  buffer_.erase(0, pos);
  if (matched) return Verdict::kMatched;
  if (buffer_.size() > kMaxLineBytes) return Verdict::kLineTooLong;
  if (eof_) {
    verdict = !buffer_.empty() && Matches(buffer_, expect) ? Verdict::kMatched : Verdict::kNoMatch;
    buffer_.clear();
  }
  return verdict;
}

}  // namespace sre::net
