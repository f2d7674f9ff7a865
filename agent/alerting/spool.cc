// The record format and the recovery rules are described in spool.h.
#include "agent/alerting/spool.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>  // mkdir
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <limits>
#include <system_error>

namespace sre::alerting {
namespace {

constexpr char kMagic[] = {'\xF5', 'S', 'P', 'L'};
constexpr size_t kHeaderBytes = 16;
constexpr size_t kIdBytes = 8;
constexpr size_t kEntryFixedBytes = kIdBytes + 2;  // id and receiver length
constexpr size_t kMaxReceiverBytes = 0xFFFF;
// Not max_bytes: entries written before max_bytes was lowered are still valid records (Open
// evicts them and reports it instead of calling them corrupt).
constexpr uint64_t kMaxBodyBytes = 64 << 20;
constexpr uint64_t kLastIdRecordBytes = kHeaderBytes + kIdBytes;
// Below this (or max_bytes, if smaller) the file is not compacted however many acks it holds:
// rewriting a small file after every ack would cost a rename and two fsyncs for little.
constexpr uint64_t kCompactFloorBytes = 64 << 10;

enum class RecordType : uint8_t { kEntry = 1, kAck = 2, kLastId = 3 };

uint64_t EntryRecordBytes(size_t receiver, size_t payload) {
  return kHeaderBytes + kEntryFixedBytes + receiver + payload;
}
uint64_t EntryRecordBytes(const SpoolEntry& entry) {
  return EntryRecordBytes(entry.receiver.size(), entry.payload.size());
}

void PutLe(std::string* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>(value >> (8 * i)));
}

uint64_t GetLe(std::string_view data, size_t at, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= uint64_t{static_cast<uint8_t>(data[at + i])} << (8 * i);
  return value;
}

uint32_t Crc(std::string_view header_fields, std::string_view body) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(header_fields.data()), header_fields.size());
  crc = crc32(crc, reinterpret_cast<const Bytef*>(body.data()), body.size());
  return static_cast<uint32_t>(crc);
}

// Appends one record; `receiver` and `payload` only for an entry. Built in place (the CRC is
// filled in last) so a payload is copied once.
void PutRecord(std::string* out, RecordType type, uint64_t id, std::string_view receiver = {},
               std::string_view payload = {}) {
  const size_t start = out->size();
  const bool entry = type == RecordType::kEntry;
  out->append(kMagic, sizeof(kMagic));
  out->push_back(static_cast<char>(type));
  out->append(3, '\0');
  PutLe(out, entry ? EntryRecordBytes(receiver.size(), payload.size()) - kHeaderBytes : kIdBytes,
        4);
  out->append(4, '\0');
  PutLe(out, id, 8);
  if (entry) {
    PutLe(out, receiver.size(), 2);
    out->append(receiver);
    out->append(payload);
  }
  const std::string_view record = std::string_view(*out).substr(start);
  const uint32_t crc = Crc(record.substr(4, 8), record.substr(kHeaderBytes));
  for (int i = 0; i < 4; ++i) (*out)[start + 12 + i] = static_cast<char>(crc >> (8 * i));
}

enum class Parsed { kRecord, kTorn, kBad };

struct Record {
  RecordType type = RecordType::kAck;
  uint64_t id = 0;
  std::string_view receiver;
  std::string_view payload;
  size_t size = 0;
};

// What the bytes from `data`'s start (to the end of the file) hold.
Parsed ParseRecord(std::string_view data, Record* record) {
  const size_t magic = std::min(data.size(), sizeof(kMagic));
  if (data.empty() || data.substr(0, magic) != std::string_view(kMagic, magic)) {
    return Parsed::kBad;
  }
  if (data.size() < kHeaderBytes) return Parsed::kTorn;
  const auto type = static_cast<RecordType>(data[4]);
  const uint64_t length = GetLe(data, 8, 4);
  const bool id_only = type == RecordType::kAck || type == RecordType::kLastId;
  if (GetLe(data, 5, 3) != 0 || (!id_only && type != RecordType::kEntry) ||
      length > kMaxBodyBytes || (id_only ? length != kIdBytes : length < kEntryFixedBytes)) {
    return Parsed::kBad;
  }
  if (data.size() - kHeaderBytes < length) return Parsed::kTorn;
  const std::string_view body = data.substr(kHeaderBytes, length);
  if (Crc(data.substr(4, 8), body) != GetLe(data, 12, 4)) return Parsed::kBad;
  *record = {type, GetLe(body, 0, 8), {}, {}, kHeaderBytes + length};
  if (type == RecordType::kEntry) {
    const size_t receiver = GetLe(body, kIdBytes, 2);
    if (kEntryFixedBytes + receiver > length) return Parsed::kBad;
    record->receiver = body.substr(kEntryFixedBytes, receiver);
    record->payload = body.substr(kEntryFixedBytes + receiver);
  }
  return Parsed::kRecord;
}

// The first position at or after `from` where `ParseRecord` says `want`, or data.size().
size_t FindNext(std::string_view data, size_t from, Parsed want) {
  Record ignored;
  for (size_t at = data.find(kMagic[0], from); at != std::string_view::npos;
       at = data.find(kMagic[0], at + 1)) {
    if (ParseRecord(data.substr(at), &ignored) == want) return at;
  }
  return data.size();
}

struct Loaded {
  std::map<uint64_t, SpoolEntry> pending;
  uint64_t last_id = 0;
  bool any_record = false;
};

Loaded Parse(std::string_view data, SpoolLoadReport* report) {
  Loaded loaded;
  size_t pos = 0;
  while (pos < data.size()) {
    Record record;
    if (ParseRecord(data.substr(pos), &record) == Parsed::kRecord) {
      loaded.any_record = true;
      loaded.last_id = std::max(loaded.last_id, record.id);
      if (record.type == RecordType::kEntry) {  // a repeated id keeps the first
        loaded.pending.emplace(record.id, SpoolEntry{record.id, std::string(record.receiver),
                                                     std::string(record.payload)});
      } else if (record.type == RecordType::kAck) {
        loaded.pending.erase(record.id);  // unknown ids are ignored
      }
      pos += record.size;
      continue;
    }
    const size_t next = FindNext(data, pos + 1, Parsed::kRecord);
    const size_t torn = next == data.size() ? FindNext(data, pos, Parsed::kTorn) : next;
    if (torn > pos) {
      ++report->corrupt_regions;
      report->bytes_skipped += torn - pos;
    }
    if (torn < next) {
      report->truncated_tail = true;
      report->bytes_skipped += next - torn;
    }
    pos = next;
  }
  return loaded;
}

Status SysError(const std::string& path, std::string_view what, int error) {
  return Status::Error(
      fmt::format("spool {}: {}: {}", path, what, std::generic_category().message(error)));
}

std::string ParentDirectory(const std::string& path) {
  const std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

// Makes a created or renamed entry of `directory` durable.
int SyncDirectory(const std::string& directory) {
  const int fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  const int error = fsync(fd) == 0 ? 0 : errno;
  close(fd);
  return error;
}

// mkdir -p with mode 0700 (std::filesystem::create_directories would use 0777 & umask).
Status MakeParentDirectories(const std::string& path) {
  const std::string directory = ParentDirectory(path);
  for (size_t slash = directory.find('/', 1);; slash = directory.find('/', slash + 1)) {
    const std::string prefix = directory.substr(0, slash);
    if (mkdir(prefix.c_str(), 0700) == 0) {
      SyncDirectory(ParentDirectory(prefix));  // best effort: a lost directory is recreated
    } else if (errno != EEXIST) {
      return SysError(path, "cannot create directory " + prefix, errno);
    }
    if (slash == std::string::npos) return Status::Ok();
  }
}

// The file's bytes; empty when it does not exist.
Result<std::string> ReadWhole(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::string();
    return SysError(path, "cannot open", errno);
  }
  std::string data;
  int error = 0;
  for (char buffer[1 << 16];;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : 0;
      break;
    }
    data.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  if (error != 0) return SysError(path, "cannot read", error);
  return data;
}

// 0 or the errno.
int WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? errno : EIO;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

}  // namespace

std::string SpoolLoadReport::Describe() const {
  const auto plural = [](size_t n) { return n == 1 ? "" : "s"; };
  std::string line = fmt::format("recovered {} pending notification{}", entries, plural(entries));
  if (corrupt_regions > 0 || truncated_tail) {
    line += fmt::format("; skipped {}{}{} ({} bytes)",
                        corrupt_regions > 0 ? fmt::format("{} corrupt region{}", corrupt_regions,
                                                          plural(corrupt_regions))
                                            : "",
                        corrupt_regions > 0 && truncated_tail ? " and " : "",
                        truncated_tail ? "a torn last record" : "", bytes_skipped);
  }
  if (!evicted.empty())
    line += fmt::format("; dropped the {} oldest, over max_bytes", evicted.size());
  return line;
}

Spool::Spool(std::string path, uint64_t max_bytes)
    : path_(std::move(path)), max_bytes_(max_bytes) {}

Spool::~Spool() {
  if (fd_ >= 0) close(fd_);
  if (lock_fd_ >= 0) close(lock_fd_);  // releases the lock
}

Result<std::unique_ptr<Spool>> Spool::Open(const std::string& path, uint64_t max_bytes,
                                           SpoolLoadReport* report) {
  SpoolLoadReport unused;
  if (report == nullptr) report = &unused;
  *report = SpoolLoadReport();
  if (Status made = MakeParentDirectories(path); !made.ok()) return made;
  // One writer per spool: a second agent (or a test) on the same path would interleave records
  // and compact away the other's. The lock is on a file of its own, which compaction's rename
  // never replaces; the kernel drops it when the process dies, SIGKILL included.
  const std::string lock_path = path + ".lock";
  const int lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    return Status::Error(
        fmt::format("spool {}: {} (opening {})", path, std::strerror(errno), lock_path));
  }
  if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    close(lock_fd);
    return Status::Error(fmt::format(
        "spool {}: {}", path,
        error == EWOULDBLOCK ? "in use by another process (another sre-agent on the same path?)"
                             : std::strerror(error)));
  }
  Result<std::string> data = ReadWhole(path);
  if (!data.ok()) {
    close(lock_fd);
    return data.status();
  }
  Loaded loaded = Parse(*data, report);
  // Compaction would replace whatever file `path` names: refuse one that never was a spool.
  const size_t magic = std::min(data->size(), sizeof(kMagic));
  if (!loaded.any_record && data->compare(0, magic, kMagic, magic) != 0) {
    close(lock_fd);
    return Status::Error(fmt::format(
        "spool {}: not a spool file (no valid record in {} bytes); refusing to overwrite it", path,
        data->size()));
  }
  std::unique_ptr<Spool> spool(new Spool(path, max_bytes));
  spool->lock_fd_ = lock_fd;
  spool->last_id_ = loaded.last_id;
  spool->pending_ = std::move(loaded.pending);
  for (const auto& [id, entry] : spool->pending_) spool->pending_bytes_ += EntryRecordBytes(entry);
  while (spool->pending_bytes_ > max_bytes) {
    auto oldest = spool->pending_.begin();
    spool->pending_bytes_ -= EntryRecordBytes(oldest->second);
    report->evicted.push_back(std::move(oldest->second));
    spool->pending_.erase(oldest);
  }
  report->entries = spool->pending_.size();
  if (Status compacted = spool->Compact(); !compacted.ok()) return compacted;
  return spool;
}

Result<uint64_t> Spool::Append(std::string_view receiver, std::string_view payload,
                               std::vector<SpoolEntry>* evicted) {
  const uint64_t size = EntryRecordBytes(receiver.size(), payload.size());
  if (receiver.size() > kMaxReceiverBytes) {
    return Status::Error(fmt::format("spool {}: receiver name of {} bytes (at most {})", path_,
                                     receiver.size(), kMaxReceiverBytes));
  }
  const uint64_t limit = std::min(max_bytes_, kHeaderBytes + kMaxBodyBytes);
  if (size > limit) {
    return Status::Error(
        fmt::format("spool {}: a notification of {} bytes is over the spool's limit of {}", path_,
                    size, limit));
  }
  if (last_id_ == std::numeric_limits<uint64_t>::max()) {
    return Status::Error(fmt::format("spool {}: ids exhausted", path_));
  }
  // The evicted entries' acks go in the same write, and the same fdatasync, as the new entry.
  std::string records;
  uint64_t freed = 0;
  auto kept = pending_.begin();
  for (; kept != pending_.end() && pending_bytes_ - freed + size > max_bytes_; ++kept) {
    freed += EntryRecordBytes(kept->second);
    PutRecord(&records, RecordType::kAck, kept->first);
  }
  const uint64_t id = last_id_ + 1;
  PutRecord(&records, RecordType::kEntry, id, receiver, payload);
  if (Status written = WriteRecords(records, /*sync=*/true); !written.ok()) return written;
  for (auto it = pending_.begin(); it != kept; it = pending_.erase(it)) {
    if (evicted != nullptr) evicted->push_back(std::move(it->second));
  }
  pending_bytes_ = pending_bytes_ - freed + size;
  last_id_ = id;
  pending_.emplace(id, SpoolEntry{id, std::string(receiver), std::string(payload)});
  MaybeCompact();
  return id;
}

Status Spool::Ack(uint64_t id) {
  const auto it = pending_.find(id);
  if (it == pending_.end()) return Status::Ok();
  pending_bytes_ -= EntryRecordBytes(it->second);
  pending_.erase(it);
  std::string record;
  PutRecord(&record, RecordType::kAck, id);
  Status written = WriteRecords(record, /*sync=*/false);
  MaybeCompact();
  return written;
}

std::vector<SpoolEntry> Spool::Pending() const {
  std::vector<SpoolEntry> entries;
  entries.reserve(pending_.size());
  for (const auto& [id, entry] : pending_) entries.push_back(entry);
  return entries;
}

Status Spool::WriteRecords(const std::string& records, bool sync) {
  int error = WriteAll(fd_, records);
  if (error == 0 && sync && fdatasync(fd_) != 0) error = errno;
  if (error == 0) {
    file_bytes_ += records.size();
    return Status::Ok();
  }
  // Cut off what was written so the next record does not follow a torn one (if this fails too,
  // the next Open skips the torn bytes).
  const int truncated = ftruncate(fd_, static_cast<off_t>(file_bytes_));
  (void)truncated;
  return SysError(path_, sync ? "cannot write and sync a record" : "cannot write a record", error);
}

void Spool::MaybeCompact() {
  // Past twice the pending records the file is mostly acks and acked entries. A rewrite then
  // costs no more than what was appended since the last one, so the cost per call stays
  // constant on average, and the file stays under 2 × max_bytes plus the last-id record.
  const uint64_t due =
      kLastIdRecordBytes + std::max(2 * pending_bytes_, std::min(kCompactFloorBytes, max_bytes_));
  if (file_bytes_ > due) compaction_status_ = Compact();
}

Status Spool::Compact() {
  std::string records;
  records.reserve(kLastIdRecordBytes + pending_bytes_);
  PutRecord(&records, RecordType::kLastId, last_id_);
  for (const auto& [id, entry] : pending_) {
    PutRecord(&records, RecordType::kEntry, id, entry.receiver, entry.payload);
  }
  // Same directory, so the rename is atomic: a crash leaves the old file or the new one.
  const std::string temp = path_ + ".tmp";
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return SysError(path_, "cannot create " + temp, errno);
  int error = WriteAll(fd, records);
  if (error == 0 && fsync(fd) != 0) error = errno;
  if (error == 0 && rename(temp.c_str(), path_.c_str()) != 0) error = errno;
  if (error != 0) {
    close(fd);
    unlink(temp.c_str());
    return SysError(path_, "cannot rewrite it through " + temp, error);
  }
  // The descriptor follows the renamed file: appends go on in the new one, with no reopen that
  // could fail after the old file is gone.
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
  file_bytes_ = records.size();
  error = SyncDirectory(ParentDirectory(path_));
  return error == 0 ? Status::Ok() : SysError(path_, "cannot sync its directory", error);
}

}  // namespace sre::alerting
