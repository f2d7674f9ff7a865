#include "agent/runtime/snapshot_store.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include "agent/core/metric_set.h"

namespace sre {
namespace {

std::shared_ptr<const Snapshot> CheckSnapshot(const std::string& check, double value) {
  MetricSet set;
  set.Gauge("probe_success", "Whether the probe succeeded.", {{"check", check}}, value);
  set.Counter("probe_attempts_total", "Attempts.", {{"check", check}}, 3);
  set.Counter("phpfpm_accepted_connections", "Accepted.", {{"check", check}}, 7);
  return MakeSnapshot({}, set.Take());
}

std::string Gunzip(const std::string& compressed) {
  z_stream stream{};
  inflateInit2(&stream, 16 + MAX_WBITS);
  std::string out(8 << 20, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  return out;
}

TEST(SnapshotStoreTest, MergesFamiliesWithOneHeaderEach) {
  SnapshotStore store;
  store.Publish("tcp/b", CheckSnapshot("b", 0));
  store.Publish("tcp/a", CheckSnapshot("a", 1));
  const std::string text = *store.Render(ExpositionFormat::kText004);
  EXPECT_EQ(text,
            "# HELP phpfpm_accepted_connections Accepted.\n"
            "# TYPE phpfpm_accepted_connections counter\n"
            "phpfpm_accepted_connections{check=\"a\"} 7\n"
            "phpfpm_accepted_connections{check=\"b\"} 7\n"
            "# HELP probe_attempts_total Attempts.\n"
            "# TYPE probe_attempts_total counter\n"
            "probe_attempts_total{check=\"a\"} 3\n"
            "probe_attempts_total{check=\"b\"} 3\n"
            "# HELP probe_success Whether the probe succeeded.\n"
            "# TYPE probe_success gauge\n"
            "probe_success{check=\"a\"} 1\n"
            "probe_success{check=\"b\"} 0\n");
}

TEST(SnapshotStoreTest, OpenMetricsNamesCountersWithTotalAndEnds) {
  SnapshotStore store;
  store.Publish("tcp/a", CheckSnapshot("a", 1));
  const std::string text = *store.Render(ExpositionFormat::kOpenMetrics100);
  EXPECT_EQ(text,
            "# HELP phpfpm_accepted_connections Accepted.\n"
            "# TYPE phpfpm_accepted_connections counter\n"
            "phpfpm_accepted_connections_total{check=\"a\"} 7\n"
            "# HELP probe_attempts Attempts.\n"
            "# TYPE probe_attempts counter\n"
            "probe_attempts_total{check=\"a\"} 3\n"
            "# HELP probe_success Whether the probe succeeded.\n"
            "# TYPE probe_success gauge\n"
            "probe_success{check=\"a\"} 1\n"
            "# EOF\n");
}

TEST(SnapshotStoreTest, RendersOncePerChange) {
  SnapshotStore store;
  store.Publish("tcp/a", CheckSnapshot("a", 1));
  auto first = store.Render(ExpositionFormat::kText004);
  EXPECT_EQ(first, store.Render(ExpositionFormat::kText004));
  auto first_gzip = store.Render(ExpositionFormat::kText004, ContentEncoding::kGzip);
  EXPECT_EQ(first_gzip, store.Render(ExpositionFormat::kText004, ContentEncoding::kGzip));
  store.Publish("tcp/a", CheckSnapshot("a", 0));
  auto second = store.Render(ExpositionFormat::kText004);
  EXPECT_NE(first, second);
  EXPECT_NE(second->find("probe_success{check=\"a\"} 0"), std::string::npos);
  EXPECT_NE(first_gzip, store.Render(ExpositionFormat::kText004, ContentEncoding::kGzip));
}

TEST(SnapshotStoreTest, GzipRoundTripsForEveryFormat) {
  SnapshotStore store;
  for (int i = 0; i < 2000; ++i) {  // a body larger than one compression block
    store.Publish("tcp/" + std::to_string(i), CheckSnapshot(std::to_string(i), i % 2));
  }
  for (auto format : {ExpositionFormat::kText004, ExpositionFormat::kOpenMetrics100}) {
    const std::string plain = *store.Render(format);
    ASSERT_GT(plain.size(), 64u * 1024);
    EXPECT_EQ(Gunzip(*store.Render(format, ContentEncoding::kGzip)), plain);
  }
}

TEST(SnapshotStoreTest, RemoveDropsSeries) {
  SnapshotStore store;
  store.Publish("tcp/a", CheckSnapshot("a", 1));
  store.Publish("tcp/b", CheckSnapshot("b", 1));
  store.Remove("tcp/a");
  const std::string text = *store.Render(ExpositionFormat::kText004);
  EXPECT_EQ(text.find("check=\"a\""), std::string::npos);
  EXPECT_NE(text.find("check=\"b\""), std::string::npos);
  EXPECT_EQ(store.All().size(), 1u);
}

TEST(SnapshotStoreTest, EmptyStoreIsEmptyBody) {
  SnapshotStore store;
  EXPECT_EQ(*store.Render(ExpositionFormat::kText004), "");
  EXPECT_EQ(*store.Render(ExpositionFormat::kOpenMetrics100), "# EOF\n");
}

}  // namespace
}  // namespace sre
