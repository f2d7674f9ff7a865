#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/exporter_factory.h"

namespace sre {

/// The exporter types this binary knows, filled explicitly by exporters/builtin.cc (no static
/// self-registration). Filled once at start-up, then read-only and thread-safe.
class ExporterRegistry {
 public:
  void Add(std::unique_ptr<ExporterFactory> factory);
  /// nullptr when unknown.
  const ExporterFactory* Find(std::string_view name) const;
  /// Names in registration order.
  std::vector<std::string> Names() const;

 private:
  std::vector<std::unique_ptr<ExporterFactory>> factories_;
};

}  // namespace sre
