// Fuzzes the alert spool's recovery: the bytes are written as a spool file and opened. Whatever
// they hold, Open must not crash, the pending entries must fit max_bytes, the rewritten file must
// hold exactly them (a second Open finds the same entries and nothing to skip), and an append
// and an ack on the recovered spool must survive a third Open.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "agent/alerting/spool.h"

namespace {

namespace fs = std::filesystem;
using sre::alerting::Spool;
using sre::alerting::SpoolEntry;
using sre::alerting::SpoolLoadReport;

// Small enough that larger inputs exercise eviction on Open.
constexpr uint64_t kMaxBytes = 2048;

// One directory per process, removed at exit. On tmpfs when there is one: every Open fsyncs,
// which on a disk would make the fuzzer measure the disk.
struct ScratchDir {
  ScratchDir() {
    const fs::path base =
        fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string templ = (base / "sre-spool-fuzz-XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) __builtin_trap();
    path = templ;
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string path;
};

auto Key(const std::vector<SpoolEntry>& entries) {
  std::vector<std::tuple<uint64_t, std::string, std::string>> key;
  for (const SpoolEntry& e : entries) key.emplace_back(e.id, e.receiver, e.payload);
  return key;
}

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

// Opening a file the spool itself wrote must succeed.
std::unique_ptr<Spool> Reopen(const std::string& path, SpoolLoadReport* report) {
  auto spool = Spool::Open(path, kMaxBytes, report);
  Check(spool.ok());
  return std::move(spool).value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ScratchDir dir;
  const std::string path = dir.path + "/spool";
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));

  SpoolLoadReport report;
  auto opened = Spool::Open(path, kMaxBytes, &report);
  if (!opened.ok()) return 0;  // a file that is not a spool at all: refused, left alone
  std::unique_ptr<Spool> spool = std::move(opened).value();
  const std::vector<SpoolEntry> pending = spool->Pending();
  uint64_t largest_id = 0;
  for (const SpoolEntry& e : pending) largest_id = std::max(largest_id, e.id);
  Check(report.entries == pending.size());
  Check(report.bytes_skipped <= size);
  Check(spool->pending_bytes() <= kMaxBytes);
  Check(spool->file_bytes() == fs::file_size(path));
  Check(spool->file_bytes() == spool->pending_bytes() + 24);  // compact: the entries, the last id
  spool.reset();

  SpoolLoadReport again;
  spool = Reopen(path, &again);
  Check(Key(spool->Pending()) == Key(pending));
  Check(again.corrupt_regions == 0 && again.bytes_skipped == 0 && !again.truncated_tail &&
        again.evicted.empty());

  // The recovered spool works: a new entry gets a fresh id, an ack sticks.
  std::vector<SpoolEntry> evicted;
  auto id = spool->Append("webhook", R"({"firing":true})", &evicted);
  Check(id.ok() && *id > largest_id);
  Check(spool->pending_bytes() <= kMaxBytes);
  if (!pending.empty()) Check(spool->Ack(pending.back().id).ok());
  const auto expected = Key(spool->Pending());
  spool.reset();
  spool = Reopen(path, nullptr);
  Check(Key(spool->Pending()) == expected);
  return 0;
}
