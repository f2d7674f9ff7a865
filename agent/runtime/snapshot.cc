#include "agent/runtime/snapshot.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <sstream>

namespace sre {

std::vector<RenderedFamily> RenderFamilies(const std::vector<prometheus::MetricFamily>& families) {
  std::vector<RenderedFamily> out;
  out.reserve(families.size());
  const prometheus::TextSerializer serializer;
  for (const auto& family : families) {
    if (family.metric.empty()) continue;
    std::ostringstream text;
    serializer.Serialize(text, {family});
    std::string rendered = std::move(text).str();
    // The serializer writes "# HELP" and "# TYPE" first; the samples follow.
    size_t split = 0;
    while (split < rendered.size() && rendered[split] == '#') {
      split = rendered.find('\n', split);
      split = split == std::string::npos ? rendered.size() : split + 1;
    }
    out.push_back({family.name, family.type, rendered.substr(0, split), rendered.substr(split)});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

}  // namespace sre
