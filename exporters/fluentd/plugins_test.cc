#include "exporters/fluentd/plugins.h"

#include <gtest/gtest.h>

#include "exporters/fluentd/fake_monitor_agent.h"

namespace sre::exporters::fluentd {
namespace {

using fake::Testdata;

const PluginStatus& Find(const std::vector<PluginStatus>& plugins, const std::string& id) {
  for (const PluginStatus& p : plugins) {
    if (p.plugin_id == id) return p;
  }
  ADD_FAILURE() << id << " is missing";
  static const PluginStatus kNone;
  return kNone;
}

TEST(PluginsTest, ParsesEveryResponseInTestdata) {
  for (const char* name : {"plugins_idle.json", "plugins_retrying.json", "plugins_object_ids.json",
                           "plugins_no_retry.json", "plugins_worker2.json"}) {
    auto plugins = ParsePlugins(Testdata(name));
    ASSERT_TRUE(plugins.ok()) << name << ": " << plugins.status().message();
    EXPECT_GE(plugins->size(), 3u) << name;
  }
}

TEST(PluginsTest, ReadsTheDocumentedRetryingOutput) {
  auto plugins = ParsePlugins(Testdata("plugins_retrying.json"));
  ASSERT_TRUE(plugins.ok()) << plugins.status().message();
  ASSERT_EQ(plugins->size(), 3u);
  const PluginStatus& es = (*plugins)[2];
  EXPECT_EQ(es.plugin_id, "out_es");
  EXPECT_EQ(es.category, "output");
  EXPECT_EQ(es.type, "elasticsearch");
  EXPECT_EQ(es.Get(Field::kBufferQueueLength), 1);
  EXPECT_EQ(es.Get(Field::kBufferTotalQueuedSize), 117);
  EXPECT_EQ(es.Get(Field::kBufferQueueByteSize), 117);
  EXPECT_EQ(es.Get(Field::kBufferAvailableBufferSpaceRatios), 99.9);
  EXPECT_EQ(es.Get(Field::kRetryCount), 4);
  EXPECT_EQ(es.Get(Field::kRollbackCount), 4);
  EXPECT_EQ(es.Get(Field::kFlushTimeCount), 31);
  EXPECT_FALSE(es.Get(Field::kBufferNewestTimekey));  // buffer_timekeys is empty
  ASSERT_TRUE(es.retry);
  EXPECT_EQ(es.retry->steps, 3);
  // "2025-05-29 16:05:36 +0900" and "2025-05-29 16:05:52 +0900": the offset applies.
  EXPECT_EQ(es.retry->start, 1748502336);
  EXPECT_EQ(es.retry->next_time, 1748502352);
  EXPECT_EQ(es.retry->next_time_text, "2025-05-29 16:05:52 +0900");
}

TEST(PluginsTest, InputsHaveANullRetryCountAndNoBufferFields) {
  auto plugins = ParsePlugins(Testdata("plugins_idle.json"));
  ASSERT_TRUE(plugins.ok());
  const PluginStatus& forward = Find(*plugins, "in_forward");
  EXPECT_EQ(forward.category, "input");
  EXPECT_FALSE(forward.Get(Field::kRetryCount));
  EXPECT_FALSE(forward.Get(Field::kBufferQueueLength));
  EXPECT_EQ(forward.Get(Field::kEmitRecords), 0);
  EXPECT_FALSE(forward.retry);
  const PluginStatus& es = Find(*plugins, "out_es");
  ASSERT_TRUE(es.retry);  // {}: not retrying
  EXPECT_FALSE(es.retry->next_time);
  EXPECT_FALSE(es.retry->steps);
}

TEST(PluginsTest, UnbufferedOutputsFiltersAndTimekeys) {
  auto plugins = ParsePlugins(Testdata("plugins_object_ids.json"));
  ASSERT_TRUE(plugins.ok()) << plugins.status().message();
  const PluginStatus& stdout_output = Find(*plugins, "object:8e8");
  EXPECT_EQ(stdout_output.type, "stdout");
  EXPECT_EQ(stdout_output.Get(Field::kRetryCount), 0);
  EXPECT_EQ(stdout_output.Get(Field::kEmitCount), 88);
  for (const Field field : {Field::kBufferQueueLength, Field::kBufferTotalQueuedSize,
                            Field::kBufferStageLength, Field::kBufferAvailableBufferSpaceRatios}) {
    EXPECT_FALSE(stdout_output.Get(field)) << kFieldKeys[static_cast<size_t>(field)];
  }
  const PluginStatus& file = Find(*plugins, "out_file");
  EXPECT_EQ(file.Get(Field::kBufferNewestTimekey), 1748505600);
  EXPECT_EQ(file.Get(Field::kBufferOldestTimekey), 1748502000);
  EXPECT_EQ(Find(*plugins, "object:924").category, "filter");
}

// Fluentd before 1.x reported only the list of timekeys; the newest and oldest come from it.
TEST(PluginsTest, TimekeysWithoutNewestAndOldestFields) {
  auto plugins =
      ParsePlugins(R"({"plugins":[{"plugin_id":"o","plugin_category":"output","type":"file",)"
                   R"("buffer_timekeys":[1748505600,1748502000,1748503800]}]})");
  ASSERT_TRUE(plugins.ok()) << plugins.status().message();
  EXPECT_EQ((*plugins)[0].Get(Field::kBufferNewestTimekey), 1748505600);
  EXPECT_EQ((*plugins)[0].Get(Field::kBufferOldestTimekey), 1748502000);
}

// Since Fluentd 1.19.3 include_retry is off by default: no `retry` key at all.
TEST(PluginsTest, NoRetryObjectWhenIncludeRetryIsOff) {
  auto plugins = ParsePlugins(Testdata("plugins_no_retry.json"));
  ASSERT_TRUE(plugins.ok());
  const PluginStatus& es = Find(*plugins, "out_es");
  EXPECT_FALSE(es.retry);
  EXPECT_EQ(es.Get(Field::kRetryCount), 0);
}

// include_config, debug=1 and newer Fluentd versions add keys of every shape: skipped.
TEST(PluginsTest, UnknownKeysOfAnyShapeAreSkipped) {
  auto plugins = ParsePlugins(
      R"({"version":"1.19.2","plugins":[{"plugin_id":"out_es","plugin_category":"output",)"
      R"("type":"elasticsearch","config":{"@type":"elasticsearch","host":"es","buffer":)"
      R"({"flush_interval":"5s"}},"instance_variables":{"a":[[1,2],{"b":null}],"c":true},)"
      R"("emit_size":0,"output_plugin":true,"retry_count":2,"retry":{"start":null,)"
      R"("steps":null,"next_time":null,"extra":[1]},"future_field":{"x":[]}}],"other":[1]})");
  ASSERT_TRUE(plugins.ok()) << plugins.status().message();
  ASSERT_EQ(plugins->size(), 1u);
  EXPECT_EQ((*plugins)[0].Get(Field::kRetryCount), 2);
  ASSERT_TRUE((*plugins)[0].retry);
  EXPECT_FALSE((*plugins)[0].retry->start);
}

TEST(PluginsTest, NullTypeAndNullRetryAreTolerated) {
  auto plugins = ParsePlugins(
      R"({"plugins":[{"plugin_id":"x","plugin_category":"unknown","type":null,"retry":null,)"
      R"("buffer_timekeys":null,"write_count":null}]})");
  ASSERT_TRUE(plugins.ok()) << plugins.status().message();
  EXPECT_EQ((*plugins)[0].type, "");
  EXPECT_FALSE((*plugins)[0].retry);
  EXPECT_FALSE((*plugins)[0].Get(Field::kWriteCount));
}

TEST(PluginsTest, BadInputIsAnErrorThatSaysWhat) {
  const std::string good = Testdata("plugins_retrying.json");
  const auto replaced = [&good](const std::string& from, const std::string& to) {
    std::string text = good;
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "the response is empty"},
      {"<html><body><h1>502 Bad Gateway</h1></body></html>",
       "not JSON: a syntax error at byte 1 (it starts with \"<html><body>"},
      {good.substr(0, good.size() / 2), "not JSON: it ends early (truncated?)"},
      {good + "x", "not JSON: a syntax error"},
      {"[1, 2]", "not a JSON object"},
      {"\"plugins\"", "not a JSON object"},
      {"{}", "\"plugins\" is missing"},
      {R"({"plugins":{}})", "\"plugins\" should be an array, got an object"},
      {R"({"plugins":null})", "\"plugins\" should be an array, got null"},
      {R"({"plugins":[1]})", "plugins[0] should be an object, got an integer"},
      {R"({"plugins":[{"plugin_category":"output"}]})", "plugins[0]: \"plugin_id\" is missing"},
      {R"({"plugins":[{"plugin_id":"a"}]})", "plugins[0] (a): \"plugin_category\" is missing"},
      {R"({"plugins":[{"plugin_id":7}]})", "\"plugin_id\" should be a string, got an integer"},
      {R"({"plugins":[{"plugin_id":")" + std::string(300, 'x') + "\"}]}",
       "plugins[0]: \"plugin_id\" is longer than 256 bytes"},
      {replaced("\"retry_count\":4", "\"retry_count\":\"4\""),
       "plugins[2] (out_es): \"retry_count\" should be a number or null, got a string"},
      {replaced("\"write_count\":4", "\"write_count\":true"),
       "plugins[2] (out_es): \"write_count\" should be a number or null, got boolean"},
      {replaced("\"buffer_queue_length\":1", "\"buffer_queue_length\":[1]"),
       "\"buffer_queue_length\" should be a number or null, got an array"},
      {replaced("\"steps\":3", "\"steps\":3.5"),
       "\"steps\" should be an integer or null, got a number"},
      {replaced("\"retry\":{", "\"retry\":[{"), "\"retry\" should be an object or null"},
      {replaced("\"next_time\":\"2025-05-29 16:05:52 +0900\"", "\"next_time\":\"tomorrow\""),
       "retry.next_time \"tomorrow\" is not a time"},
      {replaced("\"buffer_timekeys\":[]", "\"buffer_timekeys\":[\"x\"]"),
       "\"buffer_timekeys\" should hold numbers, got a string"},
      {R"({"plugins":[)" + std::string(100000, '[') + std::string(100000, ']') + "]}",
       "plugins[0] should be an object, got an array"},
      {R"({"deep":)" + std::string(100000, '[') + std::string(100000, ']') + R"(,"plugins":[]})",
       "nested deeper than 32 levels"},
      {R"({"plugins":[{"plugin_id":"a","plugin_category":"input","config":)" +
           std::string(40, '[') + std::string(40, ']') + "}]}",
       "nested deeper than 32 levels"},
  };
  for (const auto& [text, message] : cases) {
    auto plugins = ParsePlugins(text);
    ASSERT_FALSE(plugins.ok()) << text.substr(0, 120);
    EXPECT_NE(plugins.status().message().find(message), std::string::npos)
        << "expected \"" << message << "\" in: " << plugins.status().message();
  }
}

TEST(PluginsTest, SizeAndPluginCountAreBounded) {
  const std::string good = Testdata("plugins_idle.json");
  auto too_large = ParsePlugins(good, {.max_bytes = 100});
  ASSERT_FALSE(too_large.ok());
  EXPECT_NE(too_large.status().message().find("more than 100"), std::string::npos);
  auto too_many = ParsePlugins(good, {.max_plugins = 2});
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.status().message(), "more than 2 plugins");
}

}  // namespace
}  // namespace sre::exporters::fluentd
