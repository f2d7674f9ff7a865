#include "agent/runtime/probe_modules.h"

#include <fmt/format.h>

#include <algorithm>

#include "agent/config/duration.h"
#include "agent/config/schema.h"
#include "agent/config/value_codec.h"

namespace sre {
namespace {

constexpr std::string_view kAllowKey = "allow";
constexpr std::string_view kModulesKey = "modules";
constexpr std::string_view kProberKey = "prober";
constexpr std::string_view kTimeoutKey = "timeout";
constexpr std::string_view kCheckKey = "check";

/// Every prober of the registry, in registration order, with its factory.
std::vector<std::pair<std::string, const ExporterFactory*>> Probers(
    const ExporterRegistry& registry) {
  std::vector<std::pair<std::string, const ExporterFactory*>> probers;
  for (const std::string& name : registry.Names()) {
    const ExporterFactory* factory = registry.Find(name);
    const ProbeSupport support = factory->probe_support();
    if (!support.prober.empty()) probers.emplace_back(std::string(support.prober), factory);
  }
  return probers;
}

std::string ProberList(const std::vector<std::pair<std::string, const ExporterFactory*>>& probers) {
  if (probers.empty()) return "none in this build";
  std::vector<std::string> names;
  for (const auto& [name, factory] : probers) names.push_back(name);
  return fmt::format("{}", fmt::join(names, ", "));
}

/// A node made here (not read from the file) reports line 1, column 1. An error located there is
/// moved to `anchor`, the module's place in the file: a module never starts at 1:1.
Status AtAnchorIfSynthetic(Status error, const YAML::Node& anchor,
                           const config::ParseContext& ctx) {
  const std::string synthetic = ctx.file() + ":1:1: ";
  if (error.ok() || !error.message().starts_with(synthetic)) return error;
  return ctx.ErrorAt(anchor, std::string_view(error.message()).substr(synthetic.size()));
}

Status ParseModule(const std::string& name, const YAML::Node& key, const YAML::Node& value,
                   const std::vector<std::pair<std::string, const ExporterFactory*>>& probers,
                   const config::ParseContext& ctx, ProbeModule& module) {
  if (!value.IsMap()) {
    return ctx.ErrorAt(value.IsNull() ? key : value,
                       fmt::format("module \"{}\": expected a mapping with `prober:` ({}) and "
                                   "the prober's options",
                                   name, ProberList(probers)));
  }
  std::vector<std::string> valid{std::string(kProberKey), std::string(kTimeoutKey)};
  for (const auto& [prober, factory] : probers) valid.push_back(prober);
  if (Status s = config::internal::CheckMapping(value, valid, ctx); !s.ok()) return s;

  const YAML::Node prober_node = value[std::string(kProberKey)];
  if (!prober_node.IsDefined()) {
    return ctx.ErrorAt(value, fmt::format("module \"{}\": missing required key 'prober' ({})", name,
                                          ProberList(probers)));
  }
  std::string prober;
  if (Status s = config::ValueCodec<std::string>::Parse(prober_node, ctx, prober); !s.ok()) {
    return s;
  }
  auto found = std::find_if(probers.begin(), probers.end(),
                            [&](const auto& entry) { return entry.first == prober; });
  if (found == probers.end()) {
    return ctx.ErrorAt(prober_node, fmt::format("unknown prober \"{}\"; known probers: {}", prober,
                                                ProberList(probers)));
  }
  const ExporterFactory& factory = *found->second;
  const ProbeSupport support = factory.probe_support();

  const YAML::Node timeout_node = value[std::string(kTimeoutKey)];
  Duration timeout{0};
  if (timeout_node.IsDefined()) {
    if (Status s = config::ValueCodec<Duration>::Parse(timeout_node, ctx, timeout); !s.ok()) {
      return s;
    }
    if (timeout <= Duration::zero()) return ctx.ErrorAt(timeout_node, "timeout must be positive");
  }
  for (const auto& item : value) {
    const std::string section = item.first.Scalar();
    if (section != prober && section != kProberKey && section != kTimeoutKey) {
      return ctx.ErrorAt(item.first,
                         fmt::format("module \"{}\" has prober {}, so its `{}:` options would be "
                                     "ignored; remove them",
                                     name, prober, section));
    }
  }

  const YAML::Node options = value[prober];
  const bool has_options = options.IsDefined() && options.IsMap();
  if (options.IsDefined() && !options.IsNull() && !options.IsMap()) {
    return ctx.ErrorAt(options, fmt::format("expected a mapping of {} options", prober));
  }
  // The instance a request would make, with the prober's example target: the exporter's own
  // schema checks the options now, with their positions in the file.
  YAML::Node instance(YAML::NodeType::Map);
  if (has_options) {
    for (const auto& item : options) {
      const std::string option = item.first.IsScalar() ? item.first.Scalar() : "";
      std::string why;
      if (option == kCheckKey) {
        why = "/probe names the check after the module";
      } else if (option == support.target_key) {
        why = "it comes from the request's `target` parameter";
      } else if (option == kTimeoutKey) {
        why = "set `timeout` on the module, beside `prober:`";
      } else if (option == "interval" || option == "labels") {
        why = "it does not apply to /probe";
      }
      if (!why.empty()) {
        return ctx.ErrorAt(item.first,
                           fmt::format("`{}` cannot be set in a module: {}", option, why));
      }
      instance[item.first] = item.second;
    }
  }
  instance[std::string(kCheckKey)] = name;
  instance[std::string(support.target_key)] = std::string(support.example_target);
  if (timeout_node.IsDefined()) instance[std::string(kTimeoutKey)] = timeout_node;
  auto spec = factory.Parse(instance, ctx);
  if (!spec.ok()) {
    return AtAnchorIfSynthetic(spec.status(), has_options ? options : value, ctx);
  }

  module.name = name;
  module.prober = prober;
  module.factory = &factory;
  module.timeout = timeout;
  if (has_options) {
    YAML::Emitter emitter;
    emitter << options;
    if (!emitter.good()) {
      return ctx.ErrorAt(options, "cannot re-emit these options: " + emitter.GetLastError());
    }
    module.options = emitter.c_str();
  }
  module.context = std::make_shared<const config::ParseContext>(ctx);
  return Status::Ok();
}

}  // namespace

Result<InstanceSpec> ProbeModule::Instantiate(std::string_view target, Duration timeout) const {
  const ProbeSupport support = factory->probe_support();
  YAML::Node node;
  try {
    node = options.empty() ? YAML::Node(YAML::NodeType::Map) : YAML::Load(options);
  } catch (const YAML::Exception& e) {
    return Status::Error(fmt::format("module \"{}\": {}", name, e.what()));
  }
  node[std::string(kCheckKey)] = name;
  node[std::string(support.target_key)] = config::Literal(target);
  if (timeout > Duration::zero()) {
    node[std::string(kTimeoutKey)] = config::FormatDuration(timeout);
  }
  auto spec = factory->Parse(node, *context);
  if (!spec.ok())
    return Status::Error(config::WithoutPosition(spec.status().message(), context->file()));
  return spec;
}

const ProbeModule* ProbeConfig::FindModule(std::string_view name) const {
  auto it = modules.find(name);
  return it == modules.end() ? nullptr : &it->second;
}

Result<ProbeConfig> ParseProbeConfig(const YAML::Node& section, const ExporterRegistry& registry,
                                     const config::ParseContext& ctx) {
  ProbeConfig probe;
  if (!section.IsDefined() || section.IsNull()) return probe;
  if (Status s = config::internal::CheckMapping(
          section, {std::string(kAllowKey), std::string(kModulesKey)}, ctx);
      !s.ok()) {
    return s;
  }

  const YAML::Node allow = section[std::string(kAllowKey)];
  if (allow.IsDefined() && !allow.IsNull()) {
    if (!allow.IsSequence()) {
      return ctx.ErrorAt(allow,
                         "expected a list of host names, *.domain wildcards, IP addresses or "
                         "CIDR blocks");
    }
    for (const YAML::Node& item : allow) {
      std::string pattern;
      if (Status s = config::ValueCodec<std::string>::Parse(item, ctx, pattern); !s.ok()) return s;
      if (auto error = TargetAllowlist::CheckPattern(pattern)) {
        return ctx.ErrorAt(item, fmt::format("invalid allow pattern \"{}\": {}", pattern, *error));
      }
      probe.allow_patterns.push_back(std::move(pattern));
    }
    auto allowlist = TargetAllowlist::Create(probe.allow_patterns);
    if (!allowlist.ok()) return ctx.ErrorAt(allow, allowlist.status().message());
    probe.allow = std::move(allowlist).value();
  }

  const YAML::Node modules = section[std::string(kModulesKey)];
  if (!modules.IsDefined() || modules.IsNull()) return probe;
  if (!modules.IsMap()) {
    return ctx.ErrorAt(modules, "expected a mapping of module name to module");
  }
  const auto probers = Probers(registry);
  for (const auto& item : modules) {
    if (!item.first.IsScalar() || item.first.Scalar().empty()) {
      return ctx.ErrorAt(item.first, "expected a module name");
    }
    const std::string name = item.first.Scalar();
    if (probe.modules.count(name) != 0) {
      return ctx.ErrorAt(item.first, fmt::format("duplicate module \"{}\"", name));
    }
    ProbeModule module;
    if (Status s = ParseModule(name, item.first, item.second, probers, ctx, module); !s.ok()) {
      return s;
    }
    probe.modules.emplace(name, std::move(module));
  }
  return probe;
}

std::string DescribeProbeSection(const ExporterRegistry& registry) {
  const auto probers = Probers(registry);
  std::vector<config::FieldDoc> module_fields;
  module_fields.push_back({std::string(kProberKey),
                           "string",
                           "",
                           true,
                           "the exporter that runs the module: " + ProberList(probers),
                           {}});
  module_fields.push_back({std::string(kTimeoutKey),
                           "duration",
                           "",
                           false,
                           "deadline of one probe; a shorter scrape timeout (minus 0.5s) wins",
                           {}});
  for (const auto& [prober, factory] : probers) {
    const ProbeSupport support = factory->probe_support();
    module_fields.push_back(
        {prober,
         "mapping",
         "",
         false,
         fmt::format("options of the {} exporter (sre-agent --describe {}), without check, {}, "
                     "timeout, interval and labels",
                     factory->name(), factory->name(), support.target_key),
         {}});
  }
  std::vector<config::FieldDoc> fields;
  fields.push_back({std::string(kAllowKey),
                    "list of string",
                    "",
                    false,
                    "targets /probe may probe: host names, *.domain wildcards, IP addresses, "
                    "CIDR blocks, or \"*\" for any; empty: /probe refuses every target",
                    {}});
  fields.push_back({std::string(kModulesKey), "map of module name to module", "", false,
                    "what /probe?module=NAME runs, as in blackbox.yml", std::move(module_fields)});
  return config::RenderDescription("probe", fields);
}

}  // namespace sre
