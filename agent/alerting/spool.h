#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/status.h"

namespace sre::alerting {

/// One notification waiting for delivery. `payload` is opaque to the spool (the caller stores
/// the JSON of `EncodeNotification`).
struct SpoolEntry {
  uint64_t id = 0;
  std::string receiver;
  std::string payload;
};

/// What `Spool::Open` found in the file.
struct SpoolLoadReport {
  size_t entries = 0;           ///< pending entries recovered (after `evicted`)
  size_t corrupt_regions = 0;   ///< stretches of bytes that were not valid records, skipped
  size_t bytes_skipped = 0;     ///< in corrupt regions and the torn tail
  bool truncated_tail = false;  ///< the file ended inside a record (a torn last write)
  /// Pending entries that no longer fit `max_bytes` (it was lowered), oldest first: the caller
  /// counts them as dropped (reason spool_full) like the ones `Append` evicts.
  std::vector<SpoolEntry> evicted;

  /// One line for the log, e.g. "recovered 3 pending notifications; skipped 2 corrupt regions
  /// (517 bytes)".
  std::string Describe() const;
};

/// The on-disk spool of notifications not yet delivered: an append-only file of checksummed
/// records (an entry per notification, an ack when it is done), so an alert raised while a
/// receiver is down, or just before the agent is killed, is delivered after a restart. The
/// record format and the recovery rules are described below the class.
///
/// Durability: `Append` returns after fdatasync. `Ack` only write()s its record: it survives the
/// agent being killed at once (the page cache outlives the process) and reaches the disk with
/// the next `Append`'s fdatasync, the next compaction or the kernel's writeback; a power loss
/// before that costs one duplicate delivery, which at-least-once delivery allows anyway.
///
/// Not thread-safe: one owner, on the event-loop thread. Every call does blocking file I/O
/// (an fdatasync per `Append`, and a rewrite of at most `max_bytes` when compacting).
class Spool {
 public:
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  /// Opens or creates `path` (missing parent directories are created with mode 0700, the file
  /// has mode 0600), reads every valid record, keeps the entries appended and not acked, evicts
  /// the oldest if they pass `max_bytes`, and rewrites the file compactly (temp file, fsync,
  /// rename, fsync of the directory) so skipped bytes do not stay. `report` may be null.
  /// Errors name the path and the errno text; a non-empty file with no valid record that does
  /// not start like a spool is refused rather than overwritten (a misconfigured path), and so is
  /// a spool another process holds open (an exclusive flock on `path.lock`).
  static Result<std::unique_ptr<Spool>> Open(const std::string& path, uint64_t max_bytes,
                                             SpoolLoadReport* report);

  /// Appends an entry and fdatasyncs before returning its id. When the pending entries would
  /// pass `max_bytes`, the oldest are acked first and moved to `*evicted` (may be null) for the
  /// caller to count. An entry whose record alone passes `max_bytes`, or a receiver name over
  /// 65535 bytes, is refused. On error nothing changed.
  Result<uint64_t> Append(std::string_view receiver, std::string_view payload,
                          std::vector<SpoolEntry>* evicted);

  /// Marks an entry done (delivered, or given up on); an unknown id is a no-op. The entry leaves
  /// `Pending()` even when writing the ack fails (the error is returned): the file then still
  /// holds it, which at worst means one duplicate delivery after a restart.
  Status Ack(uint64_t id);

  /// The pending entries, in append order.
  std::vector<SpoolEntry> Pending() const;
  size_t pending_count() const { return pending_.size(); }

  /// Bytes the file holds; bytes the pending entries' records take, which `max_bytes` bounds (a
  /// record is 26 bytes more than its receiver and payload).
  uint64_t file_bytes() const { return file_bytes_; }
  uint64_t pending_bytes() const { return pending_bytes_; }
  const std::string& path() const { return path_; }

  /// The last compaction's outcome. A failed compaction fails nothing else (the records are on
  /// disk); it is retried whenever the file is due, and the caller should log and count it.
  const Status& compaction_status() const { return compaction_status_; }

 private:
  Spool(std::string path, uint64_t max_bytes);

  Status WriteRecords(const std::string& records, bool sync);
  Status Compact();
  void MaybeCompact();

  std::string path_;
  uint64_t max_bytes_;
  int fd_ = -1;       // O_APPEND, on the current file
  int lock_fd_ = -1;  // `path.lock`, flock'ed while this spool is open
  uint64_t file_bytes_ = 0;
  uint64_t pending_bytes_ = 0;
  uint64_t last_id_ = 0;                    // the largest id ever seen or issued
  std::map<uint64_t, SpoolEntry> pending_;  // by id, which is append order
  Status compaction_status_ = Status::Ok();
};

// The format. The spool file is a sequence of records, each a 16-byte header and a body:
//
//   offset size field
//   0      4    magic F5 53 50 4C ("\xF5SPL"). 0xF5 never occurs in UTF-8, so the magic cannot
//               appear inside a JSON payload or a receiver name, and resynchronising after
//               corruption does not stop inside one.
//   4      1    type: 1 entry, 2 ack, 3 last id
//   5      3    zero (reserved: anything else is corruption)
//   8      4    body length, little-endian, at most 64 MiB
//   12     4    CRC-32 (zlib) of bytes 4..11 then the body, little-endian. It covers the type and
//               the length too, so a flipped length or type is caught like a flipped payload byte.
//
// Bodies, integers little-endian: entry: id u64, receiver length u16, receiver, payload; ack: id
// u64; last id: u64, the largest id issued, first in every rewritten file so that ids stay
// monotonic across restarts even when every entry was acked and compacted away.
//
// Recovery: where no valid record starts, the reader scans forward for the next position where a
// whole record (magic, header fields, CRC, body shape) is valid; the bytes in between are one
// corrupt region. When nothing valid follows, bytes from the first position that starts like a
// record but stops before its end are a torn last write (truncated_tail), not corruption. The
// file is parsed in place from one read, so no length read from it drives an allocation.

}  // namespace sre::alerting
