// Fuzzes what the Kubernetes API server sends the agent: a PodList body and a watch stream, one
// JSON event per line. The bytes come over the network from a server the agent does not control
// (or from something in between): parsing must return values or an error, never crash, recurse
// without bound or throw.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/discovery/pod.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)sre::discovery::ParsePodList(text);
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    auto event = sre::discovery::ParseWatchEvent(text.substr(start, end - start));
    // Every event but an ERROR says where to resume the watch from.
    if (event.ok() && event->type == sre::discovery::WatchEvent::Type::kBookmark &&
        event->resource_version.empty()) {
      std::abort();
    }
    start = end + 1;
  }
  return 0;
}
