#include "agent/runtime/snapshot.h"

#include <algorithm>

#include "agent/runtime/text_format.h"

namespace sre {

namespace {

std::shared_ptr<const FamilyHeader> MakeHeader(const prometheus::MetricFamily& family) {
  return std::make_shared<const FamilyHeader>(
      FamilyHeader{family.name, family.type, family.help, RenderHeaderText(family)});
}

}  // namespace

std::shared_ptr<const FamilyHeader> HeaderPool::Intern(const prometheus::MetricFamily& family) {
  auto it = headers_.find(family.name);
  if (it != headers_.end() && it->second->type == family.type && it->second->help == family.help) {
    return it->second;
  }
  auto header = MakeHeader(family);
  headers_.insert_or_assign(family.name, header);  // a changed help text replaces the old one
  return header;
}

std::shared_ptr<const Snapshot> MakeSnapshot(CheckStatus status,
                                             const std::vector<prometheus::MetricFamily>& families,
                                             HeaderPool* pool, std::string* scratch) {
  std::string local;
  std::string& buffer = scratch != nullptr ? *scratch : local;
  buffer.clear();
  std::vector<std::pair<size_t, size_t>> spans;  // [begin, end) of each family's samples
  spans.reserve(families.size());
  for (const auto& family : families) {
    const size_t begin = buffer.size();
    AppendSamplesText(family, buffer);
    spans.emplace_back(begin, buffer.size());
  }
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->status = std::move(status);
  snapshot->text.assign(buffer);  // exactly sized: it lives for a whole interval
  for (size_t i = 0; i < families.size(); ++i) {
    const auto& family = families[i];
    if (family.metric.empty()) continue;
    const std::string_view samples(snapshot->text.data() + spans[i].first,
                                   spans[i].second - spans[i].first);
    snapshot->families.push_back(
        {pool != nullptr ? pool->Intern(family) : MakeHeader(family), samples});
  }
  std::stable_sort(snapshot->families.begin(), snapshot->families.end(),
                   [](const auto& a, const auto& b) { return a.name() < b.name(); });
  return snapshot;
}

}  // namespace sre
