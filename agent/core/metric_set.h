#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <string_view>
#include <vector>

namespace sre {

using Labels = std::vector<prometheus::ClientMetric::Label>;

/// Cumulative histogram state an exporter keeps across runs (le buckets, count, sum).
/// Not thread-safe; owned by one exporter instance.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);
  prometheus::ClientMetric::Histogram ToMetric() const;

 private:
  std::vector<double> upper_bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative
  uint64_t count_ = 0;
  double sum_ = 0;
};

/// Builds the metric families of one collection: each call appends a sample to the named family
/// (created on first use, in first-use order). Names are checked: an invalid metric or label name
/// is a programming error and aborts in debug builds. Not thread-safe; use one per collection.
class MetricSet {
 public:
  // Room for a typical exporter's families (an HTTP probe has about 30), so adding them never
  // moves the ones built so far.
  MetricSet() { families_.reserve(32); }

  void Gauge(std::string_view name, std::string_view help, Labels labels, double value);
  void Counter(std::string_view name, std::string_view help, Labels labels, double value);
  void Histogram(std::string_view name, std::string_view help, Labels labels,
                 const prometheus::ClientMetric::Histogram& histogram);

  std::vector<prometheus::MetricFamily> Take() { return std::move(families_); }

 private:
  prometheus::ClientMetric& Add(std::string_view name, std::string_view help,
                                prometheus::MetricType type, Labels labels);

  std::vector<prometheus::MetricFamily> families_;
};

/// `labels` plus the extra pairs, in order.
Labels WithLabels(const Labels& labels,
                  std::initializer_list<prometheus::ClientMetric::Label> more);

}  // namespace sre
