// Fuzzes config loading: YAML parsing, then a schema with every kind of field (scalars, lists,
// maps, secrets, nested and listed sub-schemas, embedded keys, checks), env expansion and the
// canonical text. Nothing may crash or throw, whatever the bytes.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/config/schema.h"
#include "agent/config/source.h"

namespace {

using sre::Duration;
using sre::config::Schema;

struct Common {
  std::string check;
  Duration interval{0};
};

struct Tls {
  std::string ca_file;
  bool insecure = false;
};

struct Endpoint {
  std::string url;
  int64_t weight = 1;
  std::vector<int64_t> codes;
};

struct FuzzConfig {
  Common common;
  std::string name;
  bool enabled = true;
  int64_t port = 80;
  double ratio = 0.5;
  Duration timeout = std::chrono::seconds(5);
  std::vector<std::string> tags;
  std::map<std::string, std::string> labels;
  std::string password;
  Tls tls;
  std::vector<Endpoint> endpoints;
};

std::optional<std::string> NotEmpty(const std::string& value) {
  if (value.empty()) return "must not be empty";
  return std::nullopt;
}

const Schema<FuzzConfig>& FuzzSchema() {
  static const auto* common = [] {
    auto* s = new Schema<Common>("common");
    s->Field("check", &Common::check, "check name").Required();
    s->Validate(&Common::check, NotEmpty);
    s->Field("interval", &Common::interval, "how often");
    return s;
  }();
  static const auto* tls = [] {
    auto* s = new Schema<Tls>("tls");
    s->Field("ca_file", &Tls::ca_file, "CA bundle").Required();
    s->Field("insecure", &Tls::insecure, "skip verification");
    return s;
  }();
  static const auto* endpoint = [] {
    auto* s = new Schema<Endpoint>("endpoint");
    s->Field("url", &Endpoint::url, "where").Required();
    s->Field("weight", &Endpoint::weight, "share");
    s->Field("codes", &Endpoint::codes, "status codes");
    return s;
  }();
  static const auto* schema = [] {
    auto* s = new Schema<FuzzConfig>("fuzz");
    s->Embed(&FuzzConfig::common, *common);
    s->Field("name", &FuzzConfig::name, "display name");
    s->Field("enabled", &FuzzConfig::enabled, "on or off");
    s->Field("port", &FuzzConfig::port, "TCP port");
    s->Validate(&FuzzConfig::port, [](const int64_t& port) -> std::optional<std::string> {
      if (port < 1 || port > 65535) return "port out of range";
      return std::nullopt;
    });
    s->Field("ratio", &FuzzConfig::ratio, "a number");
    s->Field("timeout", &FuzzConfig::timeout, "a duration");
    s->Field("tags", &FuzzConfig::tags, "a list");
    s->Field("labels", &FuzzConfig::labels, "a map");
    s->Secret("password", &FuzzConfig::password, "a secret");
    s->Nested("tls", &FuzzConfig::tls, *tls, "a nested mapping");
    s->List("endpoints", &FuzzConfig::endpoints, *endpoint, "a list of mappings");
    s->Check([](const FuzzConfig& c) -> std::optional<std::string> {
      if (c.common.interval != Duration(0) && c.timeout >= c.common.interval) {
        return "timeout must be below interval";
      }
      return std::nullopt;
    });
    return s;
  }();
  return *schema;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto doc = sre::config::Document::FromString(text, "fuzz.yaml");
  if (!doc.ok()) return 0;
  const sre::config::EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "SET") return "value";
    if (name == "EMPTY") return "";
    return std::nullopt;
  };
  // Relative *_file paths resolve under a directory that does not exist, so secret reads fail
  // fast (absolute paths read real regular files, at most 1 MiB).
  const sre::config::ParseContext ctx("fuzz.yaml", env, "/nonexistent-sre-fuzz");
  FuzzConfig config;
  (void)FuzzSchema().Parse(doc->root(), ctx, config);
  (void)sre::config::CanonicalText(doc->root(), ctx);
  return 0;
}
