#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/clock.h"
#include "agent/base/status.h"
#include "agent/config/source.h"
#include "agent/core/exporter_factory.h"
#include "agent/core/exporter_registry.h"
#include "agent/runtime/target_allowlist.h"

namespace sre {

/// One module of the `probe:` section, shaped like a blackbox.yml module: the prober (an
/// exporter whose ProbeSupport names it), an optional timeout, and the exporter's options under the
/// prober's name. Validated when the config loads. Immutable; thread-safe.
struct ProbeModule {
  std::string name;    ///< the `module` parameter; also the instance's `check`
  std::string prober;  ///< "tcp", "http"
  const ExporterFactory* factory = nullptr;  ///< the registry's, which outlives the config
  Duration timeout{0};                       ///< 0: not set
  /// The `<prober>:` mapping as YAML text ("" when absent). Text rather than a YAML::Node, so
  /// that request threads each parse their own copy: yaml-cpp nodes are not safe to share.
  std::string options;
  /// The config file's context: relative `*_file` paths, `${VAR}` expansion.
  std::shared_ptr<const config::ParseContext> context;

  /// The instance that probes `target` for one /probe request: the module's options plus
  /// `check: <name>`, `<target_key>: <target>` and `timeout` (when positive), parsed by the
  /// factory. `target` is taken literally (no `${VAR}` expansion). Errors are the factory's
  /// message without a file position, such as `invalid target "x": expected host:port, ...`.
  /// Reads the files the options name (a CA bundle) on every call.
  Result<InstanceSpec> Instantiate(std::string_view target, Duration timeout) const;
};

/// The `probe:` section: which targets /probe may probe, and its modules. Immutable; thread-safe.
struct ProbeConfig {
  std::vector<std::string> allow_patterns;  ///< as written
  TargetAllowlist allow;                    ///< empty: /probe refuses every target
  std::map<std::string, ProbeModule, std::less<>> modules;

  /// nullptr when there is no such module.
  const ProbeModule* FindModule(std::string_view name) const;
};

/// Parses the `probe:` section (null or absent: no modules, nothing allowed):
///
///   probe:
///     allow: ["*.example.com", "10.0.0.0/8"]
///     modules:
///       tcp_connect: {prober: tcp, timeout: 5s, tcp: {tls: true}}
///
/// Each module is checked by its exporter's own schema, with the prober's example target filled
/// in, so a bad option is a `file:line:col:` error at load time rather than at the first request.
Result<ProbeConfig> ParseProbeConfig(const YAML::Node& section, const ExporterRegistry& registry,
                                     const config::ParseContext& ctx);

/// The keys of the `probe:` section, as `sre-agent --describe probe` prints them.
std::string DescribeProbeSection(const ExporterRegistry& registry);

}  // namespace sre
