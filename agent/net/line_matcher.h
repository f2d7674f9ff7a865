#pragma once

#include <re2/re2.h>

#include <string>
#include <string_view>

namespace sre::net {

/// Finds lines matching a regex in a byte stream that arrives in pieces: the expect steps of TCP
/// checks. Pure (bytes in, verdicts out, no I/O), so it is fuzzed on its own. A line ends at
/// "\n"; a trailing "\r" is ignored; the last line at EOF may lack its "\n". Lines are capped at
/// kMaxLineBytes, so a peer that never sends "\n" cannot grow the buffer without bound.
/// Not thread-safe.
class LineMatcher {
 public:
  static constexpr size_t kMaxLineBytes = 4096;

  enum class Verdict {
    kMatched,      ///< a line matched; it and the lines before it are consumed
    kNeedMore,     ///< no match in the complete lines so far; read more
    kNoMatch,      ///< EOF came and no line matched
    kLineTooLong,  ///< a line exceeded kMaxLineBytes
  };

  void Append(std::string_view bytes) { buffer_.append(bytes); }
  void SetEof() { eof_ = true; }
  bool eof() const { return eof_; }

  /// Consumes lines up to and including the first one that `expect` matches (anywhere in the
  /// line, like Go's regexp.MatchString).
  Verdict Next(const re2::RE2& expect);

 private:
  std::string buffer_;
  bool eof_ = false;
};

}  // namespace sre::net
