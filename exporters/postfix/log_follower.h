#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "agent/base/status.h"
#include "agent/core/reason.h"

namespace sre::exporters::postfix {

using LineSink = std::function<void(std::string_view line)>;

/// How reading a log has gone so far.
struct FollowStats {
  uint64_t bytes = 0;
  uint64_t lines = 0;
  uint64_t rotations = 0;    ///< a new file appeared at the path (rename, create)
  uint64_t truncations = 0;  ///< the file shrank under us (copytruncate): what was written
                             ///< since the last read and before the truncation is lost
  uint64_t long_lines = 0;   ///< lines over the limit, dropped
};

/// Follows one growing log file, like `tail -F`: each ReadNew reads what was appended since the
/// last one and passes on every complete line.
/// - Rotation by rename: the old file is read to its end (on this call and the next, for what
///   the logger wrote before it reopened) before the new one is read from its start, so nothing
///   is lost or read twice.
/// - Copytruncate: a file shorter than what was read is read again from its start; the lines
///   written between the last read and the truncation are lost, and the truncation counted.
/// - A missing file is an error until it appears (then read from its start).
/// Regular-file reads do not block on a socket, but they are bounded per call (`max_bytes`) so
/// a huge backlog is worked off over several runs. Not thread-safe.
class FileFollower {
 public:
  /// `from_start`: read what the file holds already (else start at its current end).
  FileFollower(std::string path, bool from_start, size_t max_line_bytes = 64 << 10);
  ~FileFollower();
  FileFollower(const FileFollower&) = delete;
  FileFollower& operator=(const FileFollower&) = delete;

  Status ReadNew(size_t max_bytes, const LineSink& sink);
  const std::string& path() const { return path_; }
  const FollowStats& stats() const { return stats_; }
  /// Why the last ReadNew failed: kNotPresent, kPermissionDenied or kReadError.
  Reason error_reason() const { return error_reason_; }

 private:
  // One open file and where reading it got to.
  struct Open {
    int fd = -1;
    dev_t device = 0;
    ino_t inode = 0;
    off_t offset = 0;
    std::string partial;    // the bytes of its unfinished last line
    bool skipping = false;  // inside a line over the limit
  };
  Status OpenPath(bool at_end);
  // Reads `file` from its offset to its end or until the budget is spent.
  Status Drain(Open& file, size_t& budget, const LineSink& sink);
  void Split(Open& file, std::string_view bytes, const LineSink& sink);
  static void Close(Open& file);

  const std::string path_;
  const size_t max_line_bytes_;
  bool start_at_end_;
  Open current_;
  Open rotated_;  // the file before the last rotation, read once more
  FollowStats stats_;
  Reason error_reason_ = Reason::kNone;
};

/// Container logs in the CRI format (kubelet's /var/log/pods/NS_POD_UID/CONTAINER/N.log):
/// `TIME STREAM P|F CONTENT`; P marks a partial line continued by the next record. Passes on
/// the reassembled CONTENT; a record not in that format is passed on whole.
class CriDecoder {
 public:
  explicit CriDecoder(LineSink sink, size_t max_line_bytes = 64 << 10)
      : sink_(std::move(sink)), max_line_bytes_(max_line_bytes) {}
  void operator()(std::string_view record);

 private:
  LineSink sink_;
  size_t max_line_bytes_;
  std::string partial_;
  bool skipping_ = false;  // the line being reassembled passed the limit: dropped at its F
};

/// The log files matching a glob, each followed; files that appear later are read from their
/// start, files that go away are dropped once read to their end. Not thread-safe.
class GlobFollower {
 public:
  GlobFollower(std::string pattern, bool from_start)
      : pattern_(std::move(pattern)), from_start_(from_start) {}
  /// Lines of each file go to the sink `make_sink(path)` made for it when it was found.
  Status ReadNew(size_t max_bytes, const std::function<LineSink(const std::string&)>& make_sink);
  const std::string& pattern() const { return pattern_; }
  FollowStats stats() const;
  size_t files() const { return files_.size(); }
  /// Why the last ReadNew failed (the first failing file's reason).
  Reason error_reason() const { return error_reason_; }

 private:
  struct File {
    std::unique_ptr<FileFollower> follower;
    LineSink sink;
  };
  const std::string pattern_;
  bool from_start_;
  std::map<std::string, File> files_;
  FollowStats gone_;  // stats of files no longer followed
  Reason error_reason_ = Reason::kNone;
};

}  // namespace sre::exporters::postfix
