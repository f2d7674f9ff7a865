#pragma once

// The parts of Kubernetes core/v1 Pod objects the agent reads, and the list and watch answers
// that carry them (GET /api/v1/pods, with ?watch=1 one JSON event per line). Pure parsing:
// bytes in, values or an error out; no I/O.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/status.h"

namespace sre::discovery {

struct PodContainer {
  std::string name;
  std::vector<int> ports;  ///< spec.containers[].ports[].containerPort

  bool operator==(const PodContainer&) const = default;
};

struct Pod {
  std::string uid;
  std::string namespace_name;  ///< metadata.namespace
  std::string name;
  std::string node;          ///< spec.nodeName
  std::string ip;            ///< status.podIP; empty until the pod has one
  std::string phase;         ///< status.phase: Pending, Running, Succeeded, Failed, Unknown
  bool ready = false;        ///< status.conditions[type=Ready].status == "True"
  bool terminating = false;  ///< metadata.deletionTimestamp is set
  std::string resource_version;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::vector<PodContainer> containers;

  bool operator==(const Pod&) const = default;
};

/// A PodList: the pods and the list's metadata.resourceVersion, to watch from.
struct PodList {
  std::string resource_version;
  std::vector<Pod> pods;
};

/// One line of a watch stream.
struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type = Type::kError;
  Pod pod;  ///< kAdded, kModified, kDeleted (the object's last state)
  /// The object's metadata.resourceVersion (every type but kError): where to resume from.
  std::string resource_version;
  int error_code = 0;         ///< kError: the Status object's code; 410 means "list again"
  std::string error_message;  ///< kError: its message
};

/// Parses a PodList body. An error names what is missing or mistyped ("items[2].metadata: ...").
/// Fields the agent does not read are ignored; a pod with neither uid nor name is an error.
Result<PodList> ParsePodList(std::string_view body);

/// Parses one watch line: {"type": "...", "object": {...}}. An unknown type is an error.
Result<WatchEvent> ParseWatchEvent(std::string_view line);

}  // namespace sre::discovery
