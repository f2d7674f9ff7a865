#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "agent/runtime/snapshot.h"

namespace sre {

enum class ExpositionFormat { kText004, kOpenMetrics100 };
enum class ContentEncoding { kIdentity, kGzip };

/// The latest snapshot of every source, keyed "exporter/check". Publish swaps a pointer; a scrape
/// takes the current exposition, re-merging fragments only when something was published since.
/// Thread-safe: the loop thread publishes, HTTP threads read.
class SnapshotStore {
 public:
  void Publish(const std::string& key, std::shared_ptr<const Snapshot> snapshot);
  void Remove(const std::string& key);

  /// Every current snapshot, ordered by key.
  std::vector<std::shared_ptr<const Snapshot>> All() const;

  /// The merged /metrics body (families by name, `# HELP`/`# TYPE` once per family) in one format
  /// and encoding. Made once per change of the store and shared by every scrape until the next
  /// change; only the forms clients ask for are made. A gzip body is compressed while merging,
  /// so the plain text of a large exposition is never held whole for a gzip client.
  std::shared_ptr<const std::string> Render(
      ExpositionFormat format, ContentEncoding encoding = ContentEncoding::kIdentity) const;

 private:
  static constexpr int kForms = 4;  // format x encoding

  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const Snapshot>> snapshots_;
  uint64_t generation_ = 1;
  mutable uint64_t rendered_generation_[kForms] = {};
  mutable std::shared_ptr<const std::string> rendered_[kForms];
};

/// Merges fragments of many snapshots, handing the body to `emit` piece by piece.
void MergeExposition(const std::vector<std::shared_ptr<const Snapshot>>& snapshots,
                     ExpositionFormat format, const std::function<void(std::string_view)>& emit);

/// The same, as one string (tests, sre-probe, benchmarks).
std::string MergeExposition(const std::vector<std::shared_ptr<const Snapshot>>& snapshots,
                            ExpositionFormat format);

}  // namespace sre
