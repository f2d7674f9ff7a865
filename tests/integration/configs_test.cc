// Loads every shipped config (configs/**/*.yaml) and every exporter's sample.yaml with the
// agent's own loader, so a config in the repo can never drift from the schemas.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "agent/runtime/agent_config.h"
#include "exporters/builtin.h"

namespace sre {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> ShippedConfigs() {
  const fs::path root = std::getenv("SRE_SOURCE_DIR");
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(root / "configs")) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  for (const auto& entry : fs::directory_iterator(root / "exporters")) {
    if (fs::exists(entry.path() / "sample.yaml")) files.push_back(entry.path() / "sample.yaml");
  }
  return files;
}

TEST(ConfigsTest, EveryShippedConfigLoads) {
  ExporterRegistry registry;
  exporters::RegisterBuiltinExporters(registry);
  const auto files = ShippedConfigs();
  ASSERT_GE(files.size(), 3u);
  for (const auto& file : files) {
    auto config = LoadAgentConfig(file.string(), registry);
    EXPECT_TRUE(config.ok()) << config.status().message();
  }
}

TEST(ConfigsTest, EveryExporterHasASampleCoveringIt) {
  ExporterRegistry registry;
  exporters::RegisterBuiltinExporters(registry);
  const fs::path root = std::getenv("SRE_SOURCE_DIR");
  for (const std::string& name : registry.Names()) {
    const fs::path sample = root / "exporters" / name / "sample.yaml";
    ASSERT_TRUE(fs::exists(sample)) << sample;
    auto config = LoadAgentConfig(sample.string(), registry);
    ASSERT_TRUE(config.ok()) << config.status().message();
    EXPECT_FALSE(config->instances.empty()) << sample;
  }
}

}  // namespace
}  // namespace sre
