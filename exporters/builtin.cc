#include "exporters/builtin.h"

#include "exporters/fluentd/fluentd_cli.h"
#include "exporters/fluentd/fluentd_exporter.h"
#include "exporters/http_probe/http_cli.h"
#include "exporters/http_probe/http_exporter.h"
#include "exporters/php_fpm/php_fpm_cli.h"
#include "exporters/php_fpm/php_fpm_exporter.h"
#include "exporters/postfix/postfix_cli.h"
#include "exporters/postfix/postfix_exporter.h"
#include "exporters/tcp/tcp_cli.h"
#include "exporters/tcp/tcp_exporter.h"

namespace sre::exporters {

void RegisterBuiltinExporters(ExporterRegistry& registry) {
  registry.Add(tcp::MakeTcpFactory());
  registry.Add(http_probe::MakeHttpProbeFactory());
  registry.Add(php_fpm::MakePhpFpmFactory());
  registry.Add(postfix::MakePostfixFactory());
  registry.Add(fluentd::MakeFluentdFactory());
}

std::vector<cli::ProbeCommand> BuiltinProbeCommands() {
  return {tcp::TcpProbeCommand(), http_probe::HttpProbeCommand(), php_fpm::PhpFpmProbeCommand(),
          postfix::PostfixProbeCommand(), fluentd::FluentdProbeCommand()};
}

}  // namespace sre::exporters
