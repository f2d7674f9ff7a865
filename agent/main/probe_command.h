#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <string>
#include <vector>

#include "agent/base/status.h"
#include "agent/main/flags.h"

namespace sre::cli {

/// One `sre-probe <name>` subcommand: it turns its flags into the same config node the
/// exporter's factory parses from the agent's file, so flags and config are validated alike.
/// Each exporter folder defines its own; exporters/builtin.cc lists them.
struct ProbeCommand {
  std::string name;             ///< "tcp"
  std::string exporter;         ///< factory name
  std::string arguments;        ///< positional usage: "HOST:PORT"
  std::string summary;          ///< one line for --help
  std::vector<FlagSpec> flags;  ///< its own flags; the shared ones are added by sre-probe
  /// Builds the instance config from the positional arguments and flags. The shared keys
  /// (`check`, `timeout`, `interval`) are filled in by sre-probe when absent.
  std::function<Result<YAML::Node>(const ParsedFlags&)> build_config;
};

/// How `--help`, the shell completions and the man page describe one sre-probe command: one
/// table for all three, so they cannot disagree.
struct CommandDoc {
  std::string name;             ///< "tcp", "check", "config validate", "alert test"
  std::string arguments;        ///< positional usage: "HOST:PORT", "[NAME...]"
  std::string summary;          ///< one line
  std::vector<FlagSpec> flags;  ///< every flag it takes, the shared ones included
};

/// `sre-probe COMMAND --help`: usage line, summary, flags.
std::string CommandUsage(const CommandDoc& command);
/// `sre-probe --help`: every command, one line each, and the exit codes.
std::string MainUsage(const std::vector<CommandDoc>& commands);

/// Flags every subcommand takes, with the same meaning everywhere.
const std::vector<FlagSpec>& SharedProbeFlags();

}  // namespace sre::cli
