#pragma once

#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <string_view>

#include "agent/base/status.h"
#include "agent/config/schema.h"
#include "agent/core/check_settings.h"
#include "agent/core/exporter.h"
#include "agent/core/log.h"

namespace sre {
namespace net {
class CurlMulti;
class EventLoop;
class ResolverPool;
}  // namespace net

/// What an exporter instance may use. Everything here lives on (or is safe from) the loop thread.
struct ExporterEnv {
  net::EventLoop& loop;
  net::ResolverPool& resolvers;
  net::CurlMulti& curl;  ///< libcurl multi on `loop`, shared by every HTTP transfer
  Logger& log;
  /// Set for /probe: report exactly what the peer exporter (blackbox_exporter) reports for one
  /// probe: its families only, without our labels (`check`, `target`, `address`) and without
  /// counters kept across runs, for one address of the target.
  bool peer_compatible = false;
  /// Set when a person reads the result (sre-probe): exporters then add per-item observations
  /// (a line per php-fpm worker) that the agent's scheduler, which reads none, is spared.
  bool for_people = false;
};

/// How an exporter answers blackbox_exporter's `/probe?module=&target=`: a module says
/// `prober: <prober>` and holds the exporter's options under the key `<prober>`, and the target
/// fills in `target_key` of the instance config.
struct ProbeSupport {
  std::string_view prober;          ///< "http", "tcp"; empty: the exporter cannot serve /probe
  std::string_view target_key;      ///< "url", "target"
  std::string_view example_target;  ///< a valid target, to validate a module when it is loaded
};

/// One configured instance, parsed and validated, not yet running. Immutable.
struct InstanceSpec {
  std::string exporter;     ///< the factory's name
  CheckSettings settings;   ///< check name, interval, timeout, extra labels
  std::string target;       ///< what it checks, for people ("db:3306", a URL, a socket)
  std::string fingerprint;  ///< canonical config text: equal means "unchanged" across reloads
  std::shared_ptr<const void> config;  ///< the exporter's own config struct, read by its factory
};

/// Knows one exporter type: its config schema, and how to make a running instance.
/// Immutable and thread-safe.
class ExporterFactory {
 public:
  virtual ~ExporterFactory() = default;
  /// The config section and `exporter` label: "tcp", "php_fpm".
  virtual std::string_view name() const = 0;
  /// One line for --describe and --help.
  virtual std::string_view summary() const = 0;
  virtual const config::SchemaBase& schema() const = 0;
  /// Whether and how it serves /probe; by default it does not.
  virtual ProbeSupport probe_support() const { return {}; }
  /// Parses one instance's mapping; errors are `file:line:col: message`.
  virtual Result<InstanceSpec> Parse(const YAML::Node& node,
                                     const config::ParseContext& ctx) const = 0;
  /// Makes the running instance (loop thread). Fails only on resources (a CA file gone since
  /// Parse), with a message.
  virtual Result<std::unique_ptr<Exporter>> Create(const InstanceSpec& spec,
                                                   ExporterEnv& env) const = 0;
};

/// The usual way to write a factory: a config struct with a `CheckSettings settings` member
/// parsed by a Schema<Config>, and a Make that builds the exporter from it.
template <typename Config>
class TypedExporterFactory : public ExporterFactory {
 public:
  const config::SchemaBase& schema() const override { return TypedSchema(); }

  Result<InstanceSpec> Parse(const YAML::Node& node,
                             const config::ParseContext& ctx) const override {
    auto config = std::make_shared<Config>();
    if (Status s = TypedSchema().Parse(node, ctx, *config); !s.ok()) return s;
    if (Status s = Prepare(*config, node, ctx); !s.ok()) return s;
    InstanceSpec spec;
    spec.exporter = std::string(name());
    spec.settings = config->settings;
    spec.target = Target(*config);
    spec.fingerprint = config::CanonicalText(node, ctx);
    spec.config = std::move(config);
    return spec;
  }

  Result<std::unique_ptr<Exporter>> Create(const InstanceSpec& spec,
                                           ExporterEnv& env) const override {
    return Make(*static_cast<const Config*>(spec.config.get()), env);
  }

 protected:
  virtual const config::Schema<Config>& TypedSchema() const = 0;
  /// Loads what the parsed config names (a CA bundle, a key) once, at parse time: off the loop
  /// thread, and caught by --config.check. Errors should point at `node`.
  virtual Status Prepare(Config& /*config*/, const YAML::Node& /*node*/,
                         const config::ParseContext& /*ctx*/) const {
    return Status::Ok();
  }
  virtual std::string Target(const Config& config) const = 0;
  virtual Result<std::unique_ptr<Exporter>> Make(const Config& config, ExporterEnv& env) const = 0;
};

}  // namespace sre
