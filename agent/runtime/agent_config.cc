#include "agent/runtime/agent_config.h"

#include <fmt/format.h>

#include <filesystem>
#include <map>

#include "agent/config/duration.h"

namespace sre {
namespace {

constexpr std::string_view kAgentSection = "agent";
constexpr std::string_view kProbeSection = "probe";
constexpr std::string_view kAlertingSection = "alerting";
constexpr std::string_view kKubernetesSection = "kubernetes";
constexpr std::string_view kDiscoverySection = "discovery";
constexpr std::string_view kShardingSection = "sharding";

Status ParseSection(const YAML::Node& list, const ExporterFactory& factory,
                    const config::ParseContext& ctx, const AgentSettings& settings, bool sharding,
                    std::vector<InstanceSpec>& out) {
  if (list.IsNull()) return Status::Ok();
  if (!list.IsSequence()) {
    return ctx.ErrorAt(list, fmt::format("expected a list of {} checks", factory.name()));
  }
  std::map<std::string, int> first_line;  // check name -> line of its first definition
  for (const YAML::Node& item : list) {
    auto spec = factory.Parse(item, ctx);
    if (!spec.ok()) return spec.status();
    CheckSettings& check = spec->settings;
    auto [it, inserted] = first_line.try_emplace(check.check, item.Mark().line + 1);
    if (!inserted) {
      return ctx.ErrorAt(item, fmt::format("duplicate check name \"{}\" (first at line {})",
                                           check.check, it->second));
    }
    if (check.replicas > 0 && !sharding) {
      return ctx.ErrorAt(item["replicas"],
                         "replicas needs a sharding: section (which agents share the probes)");
    }
    const bool explicit_timeout = check.timeout.count() > 0;
    if (check.interval.count() == 0) check.interval = settings.interval;
    if (check.interval < std::chrono::milliseconds(10)) {
      return ctx.ErrorAt(item, "interval must be at least 10ms");
    }
    if (!explicit_timeout) check.timeout = DefaultCheckTimeout(settings.timeout, check.interval);
    if (check.timeout >= check.interval) {
      return ctx.ErrorAt(item["timeout"].IsDefined() ? item["timeout"] : item,
                         fmt::format("timeout ({}) must be shorter than the interval ({})",
                                     config::FormatDuration(check.timeout),
                                     config::FormatDuration(check.interval)));
    }
    // Inherited defaults are part of what the check runs with: a changed `agent:` section must
    // restart the checks that use it.
    spec->fingerprint +=
        fmt::format("\ninterval={} timeout={}", check.interval.count(), check.timeout.count());
    out.push_back(std::move(spec).value());
  }
  return Status::Ok();
}

}  // namespace

const config::Schema<AgentSettings>& AgentSettingsSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<AgentSettings>("agent settings");
    s->Field("interval", &AgentSettings::interval, "default interval of every check");
    s->Field("timeout", &AgentSettings::timeout,
             "default deadline of one run (capped at 4/5 of the check's interval)");
    s->Check([](const AgentSettings& a) -> std::optional<std::string> {
      if (a.interval < std::chrono::milliseconds(10)) return "interval must be at least 10ms";
      if (a.timeout.count() <= 0) return "timeout must be positive";
      return std::nullopt;
    });
    return s;
  }();
  return *schema;
}

Result<AgentConfig> ParseAgentConfig(const config::Document& document,
                                     const ExporterRegistry& registry,
                                     const config::EnvLookup& env) {
  const std::string base_dir = std::filesystem::path(document.file()).parent_path().string();
  const config::ParseContext ctx(document.file(), env, base_dir);
  AgentConfig agent_config;
  agent_config.file = document.file();
  const YAML::Node& root = document.root();
  if (!root.IsDefined() || root.IsNull()) return agent_config;

  std::vector<std::string> sections{std::string(kAgentSection),     std::string(kProbeSection),
                                    std::string(kAlertingSection),  std::string(kKubernetesSection),
                                    std::string(kDiscoverySection), std::string(kShardingSection)};
  for (const std::string& name : registry.Names()) sections.push_back(name);
  if (Status s = config::internal::CheckMapping(root, sections, ctx); !s.ok()) return s;

  // `agent:` first: its defaults apply to every check, wherever the section stands in the file.
  if (Status s =
          AgentSettingsSchema().Parse(root[std::string(kAgentSection)], ctx, agent_config.settings);
      !s.ok()) {
    return s;
  }
  // Before the checks, whose `replicas` need sharding.
  discovery::DiscoveryConfig& found = agent_config.discovery;
  if (Status s = discovery::KubernetesApiSchema().Parse(root[std::string(kKubernetesSection)], ctx,
                                                        found.kubernetes);
      !s.ok()) {
    return s;
  }
  if (const YAML::Node node = root[std::string(kDiscoverySection)]; node.IsDefined()) {
    if (Status s = discovery::PodDiscoverySchema().Parse(node, ctx, found.pods); !s.ok()) return s;
  }
  if (const YAML::Node node = root[std::string(kShardingSection)]; node.IsDefined()) {
    if (Status s = discovery::ShardingSchema().Parse(node, ctx, found.sharding); !s.ok()) return s;
  }
  for (const auto& item : root) {
    const std::string section = item.first.Scalar();
    if (section == kAgentSection || section == kKubernetesSection || section == kDiscoverySection ||
        section == kShardingSection) {
      continue;
    }
    if (section == kProbeSection) {
      auto probe = ParseProbeConfig(item.second, registry, ctx);
      if (!probe.ok()) return probe.status();
      agent_config.probe = std::move(probe).value();
      continue;
    }
    if (section == kAlertingSection) {
      auto alerting = alerting::ParseAlertingConfig(item.second, ctx);
      if (!alerting.ok()) return alerting.status();
      agent_config.alerting =
          std::make_shared<const alerting::AlertingConfig>(std::move(alerting).value());
      continue;
    }
    const ExporterFactory* factory = registry.Find(section);
    if (Status s = ParseSection(item.second, *factory, ctx, agent_config.settings,
                                found.sharding.enabled(), agent_config.instances);
        !s.ok()) {
      return s;
    }
  }
  return agent_config;
}

Result<AgentConfig> LoadAgentConfig(const std::string& path, const ExporterRegistry& registry,
                                    const config::EnvLookup& env) {
  auto document = config::Document::Load(path);
  if (!document.ok()) return document.status();
  return ParseAgentConfig(*document, registry, env);
}

}  // namespace sre
