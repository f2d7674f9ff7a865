#include "agent/core/exporter_registry.h"

namespace sre {

void ExporterRegistry::Add(std::unique_ptr<ExporterFactory> factory) {
  factories_.push_back(std::move(factory));
}

const ExporterFactory* ExporterRegistry::Find(std::string_view name) const {
  for (const auto& factory : factories_) {
    if (factory->name() == name) return factory.get();
  }
  return nullptr;
}

std::vector<std::string> ExporterRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& factory : factories_) names.emplace_back(factory->name());
  return names;
}

}  // namespace sre
