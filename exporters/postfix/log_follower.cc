#include "exporters/postfix/log_follower.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

namespace sre::exporters::postfix {
namespace {

constexpr size_t kChunkBytes = 64 << 10;

std::string DescribeOpenError(int error, const std::string& path) {
  switch (error) {
    case ENOENT:
      return fmt::format("{} does not exist (yet)", path);
    case EACCES:
      return fmt::format(
          "{}: permission denied: Debian's mail.log is root:adm 0640, so run the agent in the "
          "adm group",
          path);
    default:
      return fmt::format("{}: {}", path, std::strerror(error));
  }
}

void Add(FollowStats& into, const FollowStats& more) {
  into.bytes += more.bytes;
  into.lines += more.lines;
  into.rotations += more.rotations;
  into.truncations += more.truncations;
  into.long_lines += more.long_lines;
}

}  // namespace

FileFollower::FileFollower(std::string path, bool from_start, size_t max_line_bytes)
    : path_(std::move(path)), max_line_bytes_(max_line_bytes), start_at_end_(!from_start) {}

FileFollower::~FileFollower() {
  Close(current_);
  Close(rotated_);
}

void FileFollower::Close(Open& file) {
  if (file.fd >= 0) close(file.fd);
  file = Open();
}

Status FileFollower::OpenPath(bool at_end) {
  // O_NONBLOCK: opening a FIFO put at the path must not hang the loop.
  const int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int error = errno;
    error_reason_ = error == ENOENT   ? Reason::kNotPresent
                    : error == EACCES ? Reason::kPermissionDenied
                                      : Reason::kReadError;
    return Status::Error(DescribeOpenError(error, path_));
  }
  struct stat info {};
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    close(fd);
    error_reason_ = Reason::kReadError;
    return Status::Error(fmt::format("{} is not a regular file", path_));
  }
  current_ = Open{fd, info.st_dev, info.st_ino, at_end ? info.st_size : 0, {}, false};
  return Status::Ok();
}

Status FileFollower::ReadNew(size_t max_bytes, const LineSink& sink) {
  error_reason_ = Reason::kNone;
  size_t budget = max_bytes;
  // What the logger wrote to the rotated file before it reopened the path.
  if (rotated_.fd >= 0) {
    if (Status s = Drain(rotated_, budget, sink); !s.ok()) return s;
    if (budget > 0) Close(rotated_);
  }
  const bool at_end = start_at_end_;
  start_at_end_ = false;  // only a file there at start-up starts at its end
  if (current_.fd < 0) {
    if (Status s = OpenPath(at_end); !s.ok()) return s;
  }
  struct stat info {};
  if (fstat(current_.fd, &info) == 0 && info.st_size < current_.offset) {
    ++stats_.truncations;
    current_.offset = 0;
    current_.partial.clear();
    current_.skipping = false;
  }
  if (Status s = Drain(current_, budget, sink); !s.ok()) return s;
  // A new file at the path: finish the old one first, then read the new one from its start.
  if (budget > 0 && stat(path_.c_str(), &info) == 0 &&
      (info.st_dev != current_.device || info.st_ino != current_.inode)) {
    ++stats_.rotations;
    Close(rotated_);
    rotated_ = std::move(current_);
    current_ = Open();
    if (Status s = OpenPath(false); !s.ok()) return s;
    return Drain(current_, budget, sink);
  }
  return Status::Ok();
}

Status FileFollower::Drain(Open& file, size_t& budget, const LineSink& sink) {
  char buffer[kChunkBytes];
  while (budget > 0) {
    const ssize_t n = pread(file.fd, buffer, std::min(budget, sizeof buffer), file.offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error_reason_ = Reason::kReadError;
      return Status::Error(fmt::format("reading {}: {}", path_, std::strerror(errno)));
    }
    if (n == 0) break;
    file.offset += n;
    budget -= static_cast<size_t>(n);
    stats_.bytes += static_cast<uint64_t>(n);
    Split(file, std::string_view(buffer, static_cast<size_t>(n)), sink);
  }
  return Status::Ok();
}

void FileFollower::Split(Open& file, std::string_view bytes, const LineSink& sink) {
  while (!bytes.empty()) {
    const size_t newline = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, newline);
    if (!file.skipping && file.partial.size() + piece.size() > max_line_bytes_) {
      ++stats_.long_lines;
      file.skipping = true;
      file.partial.clear();
    }
    if (newline == std::string_view::npos) {
      if (!file.skipping) file.partial.append(piece);
      return;
    }
    bytes.remove_prefix(newline + 1);
    if (file.skipping) {
      file.skipping = false;
      continue;
    }
    ++stats_.lines;
    if (file.partial.empty()) {
      sink(piece);
    } else {
      file.partial.append(piece);
      sink(file.partial);
      file.partial.clear();
    }
  }
}

void CriDecoder::operator()(std::string_view record) {
  // "2026-11-27T21:36:41.123456789Z stdout F content"
  const size_t time_end = record.find(' ');
  const size_t stream_end =
      time_end == std::string_view::npos ? time_end : record.find(' ', time_end + 1);
  const bool cri = stream_end != std::string_view::npos && stream_end + 2 <= record.size() &&
                   (record[stream_end + 1] == 'P' || record[stream_end + 1] == 'F') &&
                   (stream_end + 2 == record.size() || record[stream_end + 2] == ' ');
  if (!cri) {
    sink_(record);
    return;
  }
  const std::string_view content = record.substr(std::min(record.size(), stream_end + 3));
  const bool last = record[stream_end + 1] == 'F';
  // A line over the limit is dropped whole, as FileFollower drops one: keeping its first pieces
  // and later ones that still fit would make a different line, with a hole in it.
  if (!skipping_ && partial_.size() + content.size() > max_line_bytes_) {
    skipping_ = true;
    partial_.clear();
  }
  if (skipping_) {
    skipping_ = !last;
    return;
  }
  if (!last) {
    partial_.append(content);
    return;
  }
  if (partial_.empty()) {
    sink_(content);
    return;
  }
  partial_.append(content);
  sink_(partial_);
  partial_.clear();
}

Status GlobFollower::ReadNew(size_t max_bytes,
                             const std::function<LineSink(const std::string&)>& make_sink) {
  glob_t matches{};
  const int rc = glob(pattern_.c_str(), 0, nullptr, &matches);
  std::set<std::string> found;
  for (size_t i = 0; rc == 0 && i < matches.gl_pathc; ++i) found.insert(matches.gl_pathv[i]);
  globfree(&matches);
  for (const std::string& path : found) {
    if (files_.contains(path)) continue;
    files_.emplace(path, File{std::make_unique<FileFollower>(path, from_start_), make_sink(path)});
  }
  from_start_ = true;  // files that appear from now on are new: read them whole
  Status first_error = Status::Ok();
  error_reason_ = Reason::kNone;
  for (auto it = files_.begin(); it != files_.end();) {
    File& file = it->second;
    const size_t share = max_bytes / std::max<size_t>(files_.size(), 1);
    Status s = file.follower->ReadNew(share, file.sink);
    if (!found.contains(it->first)) {  // gone from the glob: read to its end, then dropped
      Add(gone_, file.follower->stats());
      it = files_.erase(it);
      continue;
    }
    if (!s.ok() && first_error.ok()) {
      first_error = s;
      error_reason_ = file.follower->error_reason();
    }
    ++it;
  }
  return first_error;
}

FollowStats GlobFollower::stats() const {
  FollowStats total = gone_;
  for (const auto& [path, file] : files_) Add(total, file.follower->stats());
  return total;
}

}  // namespace sre::exporters::postfix
