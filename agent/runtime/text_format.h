#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <string_view>

namespace sre {

/// The Prometheus text format 0.0.4, written directly (several times faster than prometheus-cpp's
/// ostream-based serializer; ADR 0011).

/// The `# HELP` and `# TYPE` lines of a family, help escaped.
std::string RenderHeaderText(const prometheus::MetricFamily& family);

/// Appends the family's sample lines. Histograms come out as client_golang writes them: buckets,
/// then `_sum`, then `_count`. Values use the shortest text that reads back as the same double;
/// infinities and NaN as `+Inf`, `-Inf`, `NaN`. Label values are escaped.
void AppendSamplesText(const prometheus::MetricFamily& family, std::string& samples);

/// "counter", "gauge", "histogram", "summary" or "untyped".
std::string_view TypeName(prometheus::MetricType type);

}  // namespace sre
