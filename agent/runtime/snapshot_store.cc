#include "agent/runtime/snapshot_store.h"

#include <zlib.h>

#include <algorithm>
#include <string_view>

#include "agent/runtime/text_format.h"

namespace sre {
namespace {

// Compresses a body handed over in pieces, buffering small pieces into 64 KiB blocks so zlib
// sees large inputs.
class GzipStream {
 public:
  GzipStream() {
    // 16 + MAX_WBITS: a gzip header rather than a raw zlib one. Level 1: the exposition repeats
    // itself so much that the fastest level already compresses it over twentyfold, at a third of
    // the CPU of the default level (tests/bench/exposition_bench).
    deflateInit2(&stream_, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    pending_.reserve(kBlock);
  }
  ~GzipStream() { deflateEnd(&stream_); }

  void Append(std::string_view piece) {
    if (pending_.size() + piece.size() > kBlock) Deflate(Z_NO_FLUSH);
    if (piece.size() >= kBlock) {
      Compress(piece, Z_NO_FLUSH);
    } else {
      pending_.append(piece);
    }
  }

  std::string Finish() {
    Deflate(Z_FINISH);
    out_.shrink_to_fit();
    return std::move(out_);
  }

 private:
  static constexpr size_t kBlock = 64 * 1024;

  void Deflate(int flush) {
    Compress(pending_, flush);
    pending_.clear();
  }

  void Compress(std::string_view input, int flush) {
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    stream_.avail_in = static_cast<uInt>(input.size());
    do {
      const size_t used = out_.size();
      out_.resize(used + deflateBound(&stream_, stream_.avail_in) + 64);
      stream_.next_out = reinterpret_cast<Bytef*>(out_.data() + used);
      stream_.avail_out = static_cast<uInt>(out_.size() - used);
      deflate(&stream_, flush);
      out_.resize(out_.size() - stream_.avail_out);
    } while (stream_.avail_in > 0 || (flush == Z_FINISH && stream_.avail_out == 0));
  }

  z_stream stream_{};
  std::string pending_;
  std::string out_;
};

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

std::shared_ptr<const std::string> SnapshotStore::Render(ExpositionFormat format,
                                                         ContentEncoding encoding) const {
  const int slot = (format == ExpositionFormat::kText004 ? 0 : 2) +
                   (encoding == ContentEncoding::kIdentity ? 0 : 1);
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
  std::shared_ptr<const std::string> body;
  if (encoding == ContentEncoding::kGzip) {
    GzipStream gzip;
    MergeExposition(all, format, [&gzip](std::string_view piece) { gzip.Append(piece); });
    body = std::make_shared<const std::string>(gzip.Finish());
  } else {
    body = std::make_shared<const std::string>(MergeExposition(all, format));
  }
  std::lock_guard lock(mutex_);
  if (generation > rendered_generation_[slot]) {
    rendered_generation_[slot] = generation;
    rendered_[slot] = body;
  }
  return body;
}

void MergeExposition(const std::vector<std::shared_ptr<const Snapshot>>& snapshots,
                     ExpositionFormat format, const std::function<void(std::string_view)>& emit) {
  struct Merged {
    const FamilyHeader* header;
    std::vector<std::string_view> samples;
  };
  // Families of one name from many sources share one HELP/TYPE (promtool rejects a second one).
  std::map<std::string_view, Merged> by_name;
  for (const auto& snapshot : snapshots) {
    for (const RenderedFamily& family : snapshot->families) {
      const FamilyHeader& header = *family.header;
      auto [it, inserted] = by_name.try_emplace(header.name, Merged{&header, {}});
      if (!inserted && it->second.header->type != header.type) continue;  // never mix types
      it->second.samples.push_back(family.samples);
    }
  }
  std::string rewritten;  // OpenMetrics: one family at a time
  for (const auto& [name, merged] : by_name) {
    if (format == ExpositionFormat::kOpenMetrics100) {
      rewritten.clear();
      AppendOpenMetrics(rewritten, *merged.header, merged.samples);
      emit(rewritten);
      continue;
    }
    emit(merged.header->text);
    for (std::string_view samples : merged.samples) emit(samples);
  }
  if (format == ExpositionFormat::kOpenMetrics100) emit("# EOF\n");
}

std::string MergeExposition(const std::vector<std::shared_ptr<const Snapshot>>& snapshots,
                            ExpositionFormat format) {
  size_t total = 0;
  for (const auto& snapshot : snapshots) total += snapshot->text.size();
  std::string out;
  out.reserve(total + total / 4 + 16);  // headers and OpenMetrics suffixes on top of samples
  MergeExposition(snapshots, format, [&out](std::string_view piece) { out.append(piece); });
  return out;
}

}  // namespace sre
