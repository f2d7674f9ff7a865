#include "agent/runtime/snapshot_store.h"

#include <zlib.h>

#include <algorithm>
#include <string_view>

#include "agent/runtime/text_format.h"

namespace sre {
namespace {

std::string Gzip(const std::string& input) {
  z_stream stream{};
  // 16 + MAX_WBITS: a gzip header rather than a raw zlib one. Level 1: the exposition repeats
  // itself so much that the fastest level already compresses it about tenfold, at a third of the
  // CPU of the default level (tests/bench/exposition_bench).
  deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, input.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  stream.avail_in = static_cast<uInt>(input.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// OpenMetrics names a counter family without `_total` and its sample with it; text 0.0.4 uses one
// name for both. Rewrites one family's fragment accordingly; other types keep their lines.
void AppendOpenMetrics(std::string& out, const FamilyHeader& family,
                       const std::vector<std::string_view>& samples) {
  using prometheus::MetricType;
  std::string_view base = family.name;
  const bool counter = family.type == MetricType::Counter;
  if (counter && base.ends_with("_total")) base.remove_suffix(6);
  const std::string_view type =
      family.type == MetricType::Untyped ? "unknown" : TypeName(family.type);
  out.append("# HELP ").append(base).append(" ");
  for (char c : family.help) {  // OpenMetrics escapes quotes in HELP too
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out.append("\n# TYPE ").append(base).append(" ").append(type).append("\n");
  for (std::string_view fragment : samples) {
    if (!counter || family.name.ends_with("_total")) {
      out += fragment;
      continue;
    }
    std::string_view rest = fragment;
    while (!rest.empty()) {
      size_t end = rest.find('\n');
      std::string_view line = rest.substr(0, end == std::string_view::npos ? rest.size() : end + 1);
      rest.remove_prefix(line.size());
      out.append(family.name).append("_total").append(line.substr(family.name.size()));
    }
  }
}

}  // namespace

std::shared_ptr<const std::string> Exposition::gzip() const {
  std::call_once(gzip_once_, [this] { gzip_ = std::make_shared<const std::string>(Gzip(*text_)); });
  return gzip_;
}

void SnapshotStore::Publish(const std::string& key, std::shared_ptr<const Snapshot> snapshot) {
  std::lock_guard lock(mutex_);
  snapshots_[key] = std::move(snapshot);
  ++generation_;
}

void SnapshotStore::Remove(const std::string& key) {
  std::lock_guard lock(mutex_);
  if (snapshots_.erase(key) > 0) ++generation_;
}

std::vector<std::shared_ptr<const Snapshot>> SnapshotStore::All() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<const Snapshot>> all;
  all.reserve(snapshots_.size());
  for (const auto& [key, snapshot] : snapshots_) all.push_back(snapshot);
  return all;
}

std::shared_ptr<const Exposition> SnapshotStore::Render(ExpositionFormat format) const {
  const int slot = format == ExpositionFormat::kText004 ? 0 : 1;
  std::vector<std::shared_ptr<const Snapshot>> all;
  uint64_t generation;
  {
    std::lock_guard lock(mutex_);
    if (rendered_generation_[slot] == generation_) return rendered_[slot];
    generation = generation_;
    all.reserve(snapshots_.size());
    for (const auto& [key, snapshot] : snapshots_) all.push_back(snapshot);
  }
  // Merge outside the lock so publishers on the loop thread never wait for a scrape.
  auto exposition = std::make_shared<const Exposition>(MergeExposition(all, format));
  std::lock_guard lock(mutex_);
  if (generation > rendered_generation_[slot]) {
    rendered_generation_[slot] = generation;
    rendered_[slot] = exposition;
  }
  return exposition;
}

std::string MergeExposition(const std::vector<std::shared_ptr<const Snapshot>>& snapshots,
                            ExpositionFormat format) {
  struct Merged {
    const FamilyHeader* header;
    std::vector<std::string_view> samples;
  };
  // Families of one name from many sources share one HELP/TYPE (promtool rejects a second one).
  std::map<std::string_view, Merged> by_name;
  size_t total = 0;
  for (const auto& snapshot : snapshots) {
    for (const RenderedFamily& family : snapshot->families) {
      const FamilyHeader& header = *family.header;
      auto [it, inserted] = by_name.try_emplace(header.name, Merged{&header, {}});
      if (!inserted && it->second.header->type != header.type) continue;  // never mix types
      it->second.samples.push_back(family.samples);
      total += family.samples.size() + (inserted ? header.text.size() : 0);
    }
  }
  std::string out;
  out.reserve(total + total / 8 + 16);
  for (const auto& [name, merged] : by_name) {
    if (format == ExpositionFormat::kOpenMetrics100) {
      AppendOpenMetrics(out, *merged.header, merged.samples);
      continue;
    }
    out += merged.header->text;
    for (std::string_view samples : merged.samples) out += samples;
  }
  if (format == ExpositionFormat::kOpenMetrics100) out += "# EOF\n";
  return out;
}

}  // namespace sre
