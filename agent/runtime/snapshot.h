#pragma once

#include <prometheus/metric_family.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/reason.h"

namespace sre {

/// What every sample of a family shares: its name, type, help and rendered HELP/TYPE lines.
struct FamilyHeader {
  std::string name;
  prometheus::MetricType type = prometheus::MetricType::Untyped;
  std::string help;
  std::string text;  ///< "# HELP ...\n# TYPE ...\n"
};

/// One metric family rendered once, at publish time, in the text format 0.0.4.
struct RenderedFamily {
  std::shared_ptr<const FamilyHeader> header;  ///< shared by every source of the family
  std::string_view samples;                    ///< the sample lines, inside Snapshot::text
  const std::string& name() const { return header->name; }
};

/// Keeps one FamilyHeader per distinct name, type and help: a thousand checks of one exporter then
/// share a dozen headers instead of holding twelve thousand copies. Not thread-safe; owned by
/// whoever renders (the scheduler, on the loop thread).
class HeaderPool {
 public:
  std::shared_ptr<const FamilyHeader> Intern(const prometheus::MetricFamily& family);

 private:
  std::map<std::string, std::shared_ptr<const FamilyHeader>, std::less<>> headers_;
};

/// What one check's latest run came to, for people.
struct CheckStatus {
  std::string exporter, check, target;
  bool ran = false;  ///< false until the first run finishes
  bool success = false;
  Reason reason = Reason::kNone;
  std::string message;
  double duration_seconds = 0;
  double time_unix = 0;                ///< when the run finished
  std::vector<std::string> incidents;  ///< CollectResult::incidents
};

/// The latest result of one source (a check, or the agent itself), immutable once published so
/// scrapes read it without locks on its contents. Its families' samples all live in one string:
/// one allocation per publish rather than one per family.
struct Snapshot {
  Snapshot() = default;
  Snapshot(const Snapshot&) = delete;  // `families` point into `text`
  Snapshot& operator=(const Snapshot&) = delete;

  CheckStatus status;
  std::string text;
  std::vector<RenderedFamily> families;  ///< sorted by name
};

/// A snapshot of `families` (empty ones skipped). Headers come from `pool` when given; `scratch`,
/// when given, is a buffer reused across calls so rendering does not regrow a string each time.
std::shared_ptr<const Snapshot> MakeSnapshot(CheckStatus status,
                                             const std::vector<prometheus::MetricFamily>& families,
                                             HeaderPool* pool = nullptr,
                                             std::string* scratch = nullptr);

}  // namespace sre
