#include "agent/core/metric_set.h"

#include <prometheus/check_names.h>

#include <algorithm>
#include <cassert>
#include <limits>

namespace sre {

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), counts_(upper_bounds_.size(), 0) {}

void Histogram::Observe(double value) {
  const auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  if (it != upper_bounds_.end()) ++counts_[it - upper_bounds_.begin()];
  ++count_;
  sum_ += value;
}

prometheus::ClientMetric::Histogram Histogram::ToMetric() const {
  prometheus::ClientMetric::Histogram out;
  out.sample_count = count_;
  out.sample_sum = sum_;
  out.bucket.reserve(upper_bounds_.size() + 1);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < upper_bounds_.size(); ++i) {
    cumulative += counts_[i];
    out.bucket.push_back({cumulative, upper_bounds_[i]});
  }
  out.bucket.push_back({count_, std::numeric_limits<double>::infinity()});
  return out;
}

prometheus::ClientMetric& MetricSet::Add(std::string_view name, std::string_view help,
                                         prometheus::MetricType type, Labels labels) {
  auto it = std::find_if(families_.begin(), families_.end(),
                         [&](const auto& family) { return family.name == name; });
  if (it == families_.end()) {
    assert(prometheus::CheckMetricName(std::string(name)));
    families_.push_back({std::string(name), std::string(help), type, {}});
    it = families_.end() - 1;
  }
  assert(it->type == type);
#ifndef NDEBUG
  for (const auto& label : labels) assert(prometheus::CheckLabelName(label.name));
#endif
  prometheus::ClientMetric& metric = it->metric.emplace_back();
  metric.label = std::move(labels);
  return metric;
}

void MetricSet::Gauge(std::string_view name, std::string_view help, Labels labels, double value) {
  Add(name, help, prometheus::MetricType::Gauge, std::move(labels)).gauge.value = value;
}

void MetricSet::Counter(std::string_view name, std::string_view help, Labels labels, double value) {
  Add(name, help, prometheus::MetricType::Counter, std::move(labels)).counter.value = value;
}

void MetricSet::Histogram(std::string_view name, std::string_view help, Labels labels,
                          const prometheus::ClientMetric::Histogram& histogram) {
  Add(name, help, prometheus::MetricType::Histogram, std::move(labels)).histogram = histogram;
}

Labels WithLabels(const Labels& labels,
                  std::initializer_list<prometheus::ClientMetric::Label> more) {
  Labels out;
  out.reserve(labels.size() + more.size());  // one allocation: this runs for every series
  out.insert(out.end(), labels.begin(), labels.end());
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

}  // namespace sre
