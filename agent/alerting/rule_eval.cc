#include "agent/alerting/rule_eval.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <tuple>
#include <utility>

namespace sre::alerting {
namespace {

using prometheus::MetricType;

std::string_view LabelValue(const Labels& labels, std::string_view name) {
  for (const auto& label : labels) {
    if (label.name == name) return label.value;
  }
  return {};
}

bool Selected(const RuleExpr& expr, const Labels& labels) {
  for (const LabelMatcher& matcher : expr.matchers) {
    if (!matcher.Matches(LabelValue(labels, matcher.name))) return false;
  }
  return true;
}

/// PromQL's kahanSumInc (Neumaier's variant; the compensation restarts at an infinite sum).
std::pair<double, double> KahanSumInc(double inc, double sum, double c) {
  const double t = sum + inc;
  if (std::isinf(t)) {
    c = 0;
  } else if (std::fabs(sum) >= std::fabs(inc)) {
    c += (sum - t) + inc;
  } else {
    c += (inc - t) + sum;
  }
  return {t, c};
}

/// One group's running state, as PromQL's groupedAggregation for float samples.
class Accumulator {
 public:
  Accumulator(Aggregation op, double first) : op_(op), value_(first), mean_(first) {}

  void Add(double f) {
    switch (op_) {
      case Aggregation::kSum:
        std::tie(value_, kahan_c_) = KahanSumInc(f, value_, kahan_c_);
        break;
      case Aggregation::kAvg:
        AddToMean(f);
        break;
      case Aggregation::kMax:
        if (value_ < f || std::isnan(value_)) value_ = f;
        break;
      case Aggregation::kMin:
        if (value_ > f || std::isnan(value_)) value_ = f;
        break;
      case Aggregation::kCount:
        ++count_;
        break;
      case Aggregation::kNone:
        break;
    }
  }

  double Result() const {
    switch (op_) {
      case Aggregation::kSum:
        return value_ + kahan_c_;
      case Aggregation::kAvg:
        return incremental_mean_ ? mean_ + kahan_c_ : (value_ + kahan_c_) / count_;
      case Aggregation::kCount:
        return count_;
      default:
        return value_;
    }
  }

 private:
  // The direct mean (a compensated sum divided at the end) while the sum stays finite; the
  // incremental mean from the sample that would overflow it on.
  void AddToMean(double f) {
    ++count_;
    if (!incremental_mean_) {
      const auto [sum, c] = KahanSumInc(f, value_, kahan_c_);
      if (!std::isinf(sum)) {
        value_ = sum;
        kahan_c_ = c;
        return;
      }
      incremental_mean_ = true;
      mean_ = value_ / (count_ - 1);
      kahan_c_ /= count_ - 1;
    }
    if (std::isinf(mean_)) {
      if (std::isinf(f) && (mean_ > 0) == (f > 0)) return;  // Inf of the same sign: still right
      if (!std::isinf(f) && !std::isnan(f)) return;         // Inf + x - Inf would make NaN
    }
    const double current = mean_ + kahan_c_;
    std::tie(mean_, kahan_c_) = KahanSumInc(f / count_ - current / count_, mean_, kahan_c_);
  }

  Aggregation op_;
  double value_;
  double mean_;
  double kahan_c_ = 0;
  double count_ = 1;
  bool incremental_mean_ = false;
};

/// The alert's labels for a plain selector: the series' labels without empty ones, sorted.
Labels SortedLabels(const Labels& labels) {
  Labels out;
  out.reserve(labels.size());
  for (const auto& label : labels) {
    if (!label.value.empty()) out.push_back(label);
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// A hash of the group's `by` values; `first` is the value of by[0], looked up already.
uint64_t GroupHash(const std::vector<std::string>& by, const Labels& labels,
                   std::string_view first) {
  uint64_t hash = std::hash<std::string_view>()(first);
  for (size_t i = 1; i < by.size(); ++i) {
    const uint64_t h = std::hash<std::string_view>()(LabelValue(labels, by[i]));
    hash = (hash ^ h) * 0x100000001B3ULL + (hash >> 29);
  }
  return hash;
}

bool SameGroup(const std::vector<std::string>& by, const Labels& a, const Labels& b) {
  for (const std::string& name : by) {
    if (LabelValue(a, name) != LabelValue(b, name)) return false;
  }
  return true;
}

void EvaluateSelector(const RuleExpr& expr, const std::vector<Sample>& samples,
                      std::vector<Match>& out) {
  for (const Sample& sample : samples) {
    if (!Compare(expr.comparison, sample.value, expr.threshold)) continue;  // cheaper first
    if (!Selected(expr, *sample.labels)) continue;
    out.push_back({SortedLabels(*sample.labels), sample.value});
  }
  if (out.size() < 2) return;
  std::stable_sort(out.begin(), out.end(),
                   [](const Match& a, const Match& b) { return a.labels < b.labels; });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const Match& a, const Match& b) { return a.labels == b.labels; }),
            out.end());
}

void EvaluateAggregation(const RuleExpr& expr, const std::vector<Sample>& samples,
                         std::vector<Match>& out) {
  if (expr.by.empty()) {  // one group, no labels
    std::optional<Accumulator> group;
    for (const Sample& sample : samples) {
      if (!Selected(expr, *sample.labels)) continue;
      if (group) {
        group->Add(sample.value);
      } else {
        group.emplace(expr.aggregation, sample.value);
      }
    }
    if (group && Compare(expr.comparison, group->Result(), expr.threshold)) {
      out.push_back({Labels{}, group->Result()});
    }
    return;
  }
  // Groups in first-seen order, found through an open-addressing table of group indexes keyed
  // by a hash of the `by` values; a slot's group is checked for equal values, so a collision
  // costs a probe, never a wrong group. Samples join their group in index order.
  struct Group {
    const Labels* leader;    // the first sample's labels: the group's `by` values
    std::string_view first;  // the value of by[0]: most rules group by one label
    Accumulator accumulator;
  };
  std::vector<Group> groups;
  size_t slots = 16;
  while (slots < 2 * samples.size()) slots *= 2;
  std::vector<uint32_t> table(slots, UINT32_MAX);
  for (const Sample& sample : samples) {
    const Labels& labels = *sample.labels;
    if (!Selected(expr, labels)) continue;
    const std::string_view first = LabelValue(labels, expr.by[0]);
    size_t slot = GroupHash(expr.by, labels, first) & (slots - 1);
    for (;; slot = (slot + 1) & (slots - 1)) {
      if (table[slot] == UINT32_MAX) {
        table[slot] = static_cast<uint32_t>(groups.size());
        groups.push_back({&labels, first, Accumulator(expr.aggregation, sample.value)});
        break;
      }
      Group& group = groups[table[slot]];
      if (group.first == first &&
          (expr.by.size() == 1 || SameGroup(expr.by, *group.leader, labels))) {
        group.accumulator.Add(sample.value);
        break;
      }
    }
  }
  for (const Group& group : groups) {
    const double value = group.accumulator.Result();
    if (!Compare(expr.comparison, value, expr.threshold)) continue;
    Match& match = out.emplace_back();
    match.value = value;
    for (const std::string& name : expr.by) {  // sorted already
      const std::string_view label_value = LabelValue(*group.leader, name);
      if (!label_value.empty()) match.labels.push_back({name, std::string(label_value)});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Match& a, const Match& b) { return a.labels < b.labels; });
}

}  // namespace

void SampleIndex::Add(const std::vector<prometheus::MetricFamily>& families) {
  for (const prometheus::MetricFamily& family : families) {
    switch (family.type) {
      case MetricType::Counter:
      case MetricType::Gauge:
      case MetricType::Untyped: {
        std::vector<Sample>& slot = Slot(family.name);
        for (const prometheus::ClientMetric& metric : family.metric) {
          const double value = family.type == MetricType::Counter ? metric.counter.value
                               : family.type == MetricType::Gauge ? metric.gauge.value
                                                                  : metric.untyped.value;
          slot.push_back({&metric.label, value});
        }
        size_ += family.metric.size();
        break;
      }
      case MetricType::Histogram:
      case MetricType::Summary: {
        const bool histogram = family.type == MetricType::Histogram;
        scratch_.assign(family.name).append("_count");
        std::vector<Sample>& counts = Slot(scratch_);
        scratch_.assign(family.name).append("_sum");
        std::vector<Sample>& sums = Slot(scratch_);  // unordered_map references stay valid
        for (const prometheus::ClientMetric& metric : family.metric) {
          counts.push_back(
              {&metric.label, static_cast<double>(histogram ? metric.histogram.sample_count
                                                            : metric.summary.sample_count)});
          sums.push_back(
              {&metric.label, histogram ? metric.histogram.sample_sum : metric.summary.sample_sum});
        }
        size_ += 2 * family.metric.size();
        break;
      }
    }
  }
}

void SampleIndex::Clear() {
  for (auto& [name, samples] : by_name_) samples.clear();
  size_ = 0;
}

const std::vector<Sample>& SampleIndex::Find(std::string_view metric) const {
  static const std::vector<Sample> kNone;
  const auto it = by_name_.find(metric);
  return it == by_name_.end() ? kNone : it->second;
}

std::vector<Sample>& SampleIndex::Slot(std::string_view metric) {
  auto it = by_name_.find(metric);
  if (it == by_name_.end()) it = by_name_.emplace(std::string(metric), std::vector<Sample>{}).first;
  return it->second;
}

std::vector<Match> Evaluate(const RuleExpr& expr, const SampleIndex& index) {
  std::vector<Match> out;
  const std::vector<Sample>& samples = index.Find(expr.metric);
  if (samples.empty()) return out;
  if (expr.aggregation == Aggregation::kNone) {
    EvaluateSelector(expr, samples, out);
  } else {
    EvaluateAggregation(expr, samples, out);
  }
  return out;
}

}  // namespace sre::alerting
