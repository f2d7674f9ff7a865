#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/runtime/snapshot.h"

namespace sre {

/// A whole /metrics body, made once per change of the store and shared by every scrape until the
/// next change. The gzip form is made on first request, once.
class Exposition {
 public:
  explicit Exposition(std::string text)
      : text_(std::make_shared<const std::string>(std::move(text))) {}
  std::shared_ptr<const std::string> text() const { return text_; }
  /// The gzip-compressed body; thread-safe, compressed once.
  std::shared_ptr<const std::string> gzip() const;

 private:
  std::shared_ptr<const std::string> text_;
  mutable std::once_flag gzip_once_;
  mutable std::shared_ptr<const std::string> gzip_;
};

enum class ExpositionFormat { kText004, kOpenMetrics100 };

/// The latest snapshot of every source, keyed "exporter/check". Publish swaps a pointer; a scrape
/// takes the current exposition, re-merging fragments only when something was published since.
/// Thread-safe: the loop thread publishes, HTTP threads read.
class SnapshotStore {
 public:
  void Publish(const std::string& key, std::shared_ptr<const Snapshot> snapshot);
  void Remove(const std::string& key);

  /// Every current snapshot, ordered by key.
  std::vector<std::shared_ptr<const Snapshot>> All() const;

  /// The merged exposition: families by name, `# HELP`/`# TYPE` once per family.
  std::shared_ptr<const Exposition> Render(ExpositionFormat format) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const Snapshot>> snapshots_;
  uint64_t generation_ = 1;
  mutable uint64_t rendered_generation_[2] = {0, 0};
  mutable std::shared_ptr<const Exposition> rendered_[2];
};

/// Merges fragments of many snapshots into one body (exposed for benchmarks and tests).
std::string MergeExposition(const std::vector<std::shared_ptr<const Snapshot>>& snapshots,
                            ExpositionFormat format);

}  // namespace sre
