#include "exporters/postfix/journal_follower.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

#include <cstring>

namespace sre::exporters::postfix {
namespace {

/// The value of `field` in the current entry, without the "FIELD=" prefix; empty if absent.
std::string_view Field(sd_journal* journal, const char* field) {
  const void* data = nullptr;
  size_t length = 0;
  if (sd_journal_get_data(journal, field, &data, &length) < 0) return {};
  const std::string_view entry(static_cast<const char*>(data), length);
  const size_t prefix = std::strlen(field) + 1;
  return entry.size() >= prefix ? entry.substr(prefix) : std::string_view();
}

bool IsPostfixIdentifier(std::string_view identifier) {
  return identifier.starts_with("postfix/") || identifier.starts_with("postfix-") ||
         identifier == "postfix" || identifier == "opendkim";
}

}  // namespace

JournalFollower::JournalFollower(std::string source, bool from_start)
    : source_(std::move(source)), from_start_(from_start) {}

JournalFollower::~JournalFollower() {
  if (journal_ != nullptr) sd_journal_close(journal_);
}

Status JournalFollower::Open() {
  int rc = 0;
  struct stat info {};
  if (source_ == "system") {
    rc = sd_journal_open(&journal_, SD_JOURNAL_LOCAL_ONLY);
  } else if (stat(source_.c_str(), &info) != 0) {
    error_reason_ = errno == EACCES ? Reason::kPermissionDenied : Reason::kNotPresent;
    return Status::Error(fmt::format("journal {}: {}", source_, std::strerror(errno)));
  } else if (S_ISDIR(info.st_mode)) {
    rc = sd_journal_open_directory(&journal_, source_.c_str(), 0);
  } else {
    const char* files[] = {source_.c_str(), nullptr};
    rc = sd_journal_open_files(&journal_, files, 0);
  }
  if (rc < 0) {
    journal_ = nullptr;
    error_reason_ = rc == -EACCES ? Reason::kPermissionDenied : Reason::kReadError;
    return Status::Error(
        fmt::format("journal {}: {}{}", source_, std::strerror(-rc),
                    rc == -EACCES ? " (run the agent in the systemd-journal group)" : ""));
  }
  // Keeps sd-journal watching for new journal files (rotation) between calls.
  sd_journal_get_fd(journal_);
  if (from_start_) {
    sd_journal_seek_head(journal_);
  } else {
    // Past the last entry: the first sd_journal_next() then returns the next new one.
    sd_journal_seek_tail(journal_);
    sd_journal_previous(journal_);
  }
  return Status::Ok();
}

Status JournalFollower::ReadNew(size_t max_entries, const LineSink& sink) {
  error_reason_ = Reason::kNone;
  if (journal_ == nullptr) {
    if (Status s = Open(); !s.ok()) return s;
  }
  sd_journal_process(journal_);
  for (size_t n = 0; n < max_entries; ++n) {
    const int rc = sd_journal_next(journal_);
    if (rc == 0) break;
    if (rc < 0) {
      error_reason_ = Reason::kReadError;
      return Status::Error(fmt::format("journal {}: {}", source_, std::strerror(-rc)));
    }
    const std::string_view identifier = Field(journal_, "SYSLOG_IDENTIFIER");
    if (!IsPostfixIdentifier(identifier)) continue;
    std::string_view pid = Field(journal_, "SYSLOG_PID");
    if (pid.empty()) pid = Field(journal_, "_PID");
    const std::string_view message = Field(journal_, "MESSAGE");
    line_.assign(identifier).append("[").append(pid.empty() ? "0" : pid).append("]: ");
    line_.append(message);
    ++stats_.lines;
    stats_.bytes += line_.size();
    sink(line_);
  }
  return Status::Ok();
}

}  // namespace sre::exporters::postfix
