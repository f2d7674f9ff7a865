#include "agent/core/check_settings.h"

#include <gtest/gtest.h>

namespace sre {
namespace {

TEST(CheckExtraLabelNameTest, RejectsLabelsPrometheusOrTheAgentSets) {
  for (const char* name : {"instance", "job", "namespace", "pod", "container", "service"}) {
    EXPECT_TRUE(CheckExtraLabelName(name).has_value()) << name;
  }
  for (const char* name : {"check", "target", "address", "exporter", "reason", "le", "phase"}) {
    EXPECT_EQ(CheckExtraLabelName(name), "label \"" + std::string(name) + "\" is set by the agent");
  }
  EXPECT_EQ(CheckExtraLabelName("9lives"),
            "invalid label name \"9lives\": expected [a-zA-Z_][a-zA-Z0-9_]*");
  EXPECT_TRUE(CheckExtraLabelName("__meta").has_value());
  EXPECT_EQ(CheckExtraLabelName("role"), std::nullopt);
  EXPECT_EQ(CheckExtraLabelName("k8s_namespace"), std::nullopt);
}

TEST(CheckSettingsSchemaTest, ParsesEveryKey) {
  auto document = config::Document::FromString(
      "check: db\ninterval: 2s\ntimeout: 500ms\nlabels: {role: writer}\n", "c.yaml");
  ASSERT_TRUE(document.ok());
  CheckSettings settings;
  ASSERT_TRUE(
      CheckSettingsSchema().Parse(document->root(), config::ParseContext("c.yaml"), settings).ok());
  EXPECT_EQ(settings.check, "db");
  EXPECT_EQ(settings.interval, std::chrono::seconds(2));
  EXPECT_EQ(settings.timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(settings.labels.at("role"), "writer");
}

}  // namespace
}  // namespace sre
