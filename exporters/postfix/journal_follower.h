#pragma once

#include <cstdint>
#include <string>

#include "agent/base/status.h"
#include "agent/core/reason.h"
#include "exporters/postfix/log_follower.h"

struct sd_journal;

namespace sre::exporters::postfix {

/// Follows the systemd journal with libsystemd's sd-journal: each ReadNew passes on the entries
/// added since the last one whose SYSLOG_IDENTIFIER is Postfix's (postfix, postfix-NAME, with any
/// /service) or opendkim, as the syslog line `IDENTIFIER[PID]: MESSAGE` the log parser reads.
/// `source` is "system" (this host's journal, as journalctl reads it), a directory (a host's
/// /var/log/journal mounted into the DaemonSet) or a journal file. sd-journal handles rotation
/// and vacuuming itself; entries are read from mapped files, bounded per call. Not thread-safe.
class JournalFollower {
 public:
  JournalFollower(std::string source, bool from_start);
  ~JournalFollower();
  JournalFollower(const JournalFollower&) = delete;
  JournalFollower& operator=(const JournalFollower&) = delete;

  /// Reads at most `max_entries` new entries.
  Status ReadNew(size_t max_entries, const LineSink& sink);
  const std::string& source() const { return source_; }
  const FollowStats& stats() const { return stats_; }
  Reason error_reason() const { return error_reason_; }

 private:
  Status Open();

  const std::string source_;
  const bool from_start_;
  sd_journal* journal_ = nullptr;
  std::string line_;  // reused for each entry
  FollowStats stats_;
  Reason error_reason_ = Reason::kNone;
};

}  // namespace sre::exporters::postfix
