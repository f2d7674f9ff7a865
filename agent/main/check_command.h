#pragma once

#include <string>
#include <vector>

#include "agent/core/exporter_registry.h"
#include "agent/main/probe_command.h"

namespace sre::cli {

/// `sre-probe check --config FILE [NAME...]`: runs every check of the agent's config (or the
/// named ones) once, all at the same time; failures first, then a summary; the worst exit code.
CommandDoc CheckCommandDoc();
int RunCheckCommand(const ExporterRegistry& registry, const std::vector<std::string>& args);

/// `sre-probe config validate FILE`: the agent's own validation. 0 valid, 1 invalid (the
/// `file:line:col` error on stderr), 3 usage error (no such file, bad flags).
CommandDoc ConfigValidateDoc();
int RunConfigValidate(const ExporterRegistry& registry, const std::vector<std::string>& args);

}  // namespace sre::cli
