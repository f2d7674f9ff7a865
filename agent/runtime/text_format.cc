#include "agent/runtime/text_format.h"

#include <fmt/compile.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>

namespace sre {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricType;

void AppendValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    // Counts, flags and hashes: integers print faster, and exactly as the shortest form would.
    // FMT_COMPILE: the format string is parsed at compile time, not for each of many samples.
    char buffer[24];
    out.append(buffer, fmt::format_to(buffer, FMT_COMPILE("{}"), static_cast<int64_t>(value)));
  } else {
    char buffer[32];  // the shortest round-trip form of a double fits in 24 characters
    out.append(buffer, fmt::format_to_n(buffer, sizeof buffer, FMT_COMPILE("{}"), value).out);
  }
}

void AppendEscaped(std::string& out, std::string_view text, bool quotes) {
  const bool plain = std::none_of(text.begin(), text.end(), [quotes](char c) {
    return c == '\\' || c == '\n' || (quotes && c == '"');
  });
  if (plain) {
    out.append(text);  // the usual case: nothing to escape
    return;
  }
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// name{a="1",b="2"[,extra_name="extra_value"]} value
void AppendSample(std::string& out, std::string_view name, std::string_view suffix,
                  const std::vector<ClientMetric::Label>& labels, std::string_view extra_name,
                  double extra_value, double value) {
  out.append(name).append(suffix);
  if (!labels.empty() || !extra_name.empty()) {
    out += '{';
    bool first = true;
    for (const auto& label : labels) {
      if (!first) out += ',';
      first = false;
      out.append(label.name).append("=\"");
      AppendEscaped(out, label.value, true);
      out += '"';
    }
    if (!extra_name.empty()) {
      if (!first) out += ',';
      out.append(extra_name).append("=\"");
      AppendValue(out, extra_value);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  AppendValue(out, value);
  out += '\n';
}

}  // namespace

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::Counter:
      return "counter";
    case MetricType::Gauge:
      return "gauge";
    case MetricType::Histogram:
      return "histogram";
    case MetricType::Summary:
      return "summary";
    default:
      return "untyped";
  }
}

std::string RenderHeaderText(const prometheus::MetricFamily& family) {
  std::string header = "# HELP ";
  header.append(family.name).append(" ");
  AppendEscaped(header, family.help, false);
  header.append("\n# TYPE ").append(family.name).append(" ").append(TypeName(family.type));
  header += '\n';
  return header;
}

void AppendSamplesText(const prometheus::MetricFamily& family, std::string& samples) {
  const std::string_view name = family.name;
  for (const ClientMetric& metric : family.metric) {
    switch (family.type) {
      case MetricType::Counter:
        AppendSample(samples, name, "", metric.label, "", 0, metric.counter.value);
        break;
      case MetricType::Gauge:
        AppendSample(samples, name, "", metric.label, "", 0, metric.gauge.value);
        break;
      case MetricType::Histogram:
        for (const auto& bucket : metric.histogram.bucket) {
          AppendSample(samples, name, "_bucket", metric.label, "le", bucket.upper_bound,
                       static_cast<double>(bucket.cumulative_count));
        }
        AppendSample(samples, name, "_sum", metric.label, "", 0, metric.histogram.sample_sum);
        AppendSample(samples, name, "_count", metric.label, "", 0,
                     static_cast<double>(metric.histogram.sample_count));
        break;
      case MetricType::Summary:
        for (const auto& quantile : metric.summary.quantile) {
          AppendSample(samples, name, "", metric.label, "quantile", quantile.quantile,
                       quantile.value);
        }
        AppendSample(samples, name, "_sum", metric.label, "", 0, metric.summary.sample_sum);
        AppendSample(samples, name, "_count", metric.label, "", 0,
                     static_cast<double>(metric.summary.sample_count));
        break;
      default:
        AppendSample(samples, name, "", metric.label, "", 0, metric.untyped.value);
        break;
    }
  }
}

}  // namespace sre
