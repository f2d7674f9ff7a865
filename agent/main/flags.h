#pragma once

#include <map>
#include <string>
#include <vector>

#include "agent/base/status.h"

namespace sre::cli {

/// One command-line flag. The same table drives parsing and --help.
struct FlagSpec {
  FlagSpec(std::string name, std::string value_name, std::string help,
           std::string default_value = "", bool repeatable = false)
      : name(std::move(name)),
        value_name(std::move(value_name)),
        help(std::move(help)),
        default_value(std::move(default_value)),
        repeatable(repeatable) {}

  std::string name;        ///< without dashes: "config.file", "timeout"
  std::string value_name;  ///< "FILE", "DURATION"; empty for a switch
  std::string help;
  std::string default_value;
  bool repeatable = false;
};

/// Parsed flags: values by name (switches hold "true"), and positional arguments in order.
struct ParsedFlags {
  std::map<std::string, std::vector<std::string>> values;
  std::vector<std::string> positional;

  bool Has(const std::string& name) const { return values.contains(name); }
  /// The last value given, or the spec's default, or "".
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  const std::vector<std::string>& GetAll(const std::string& name) const;
};

/// Parses `--name=value`, `--name value`, `--switch` and `--no-switch`; `--` ends the flags.
/// Unknown flags, missing values and a repeated non-repeatable flag are errors saying what was
/// expected.
Result<ParsedFlags> ParseFlags(const std::vector<FlagSpec>& specs,
                               const std::vector<std::string>& args);

/// The flags part of --help: one block per flag, aligned.
std::string RenderFlagHelp(const std::vector<FlagSpec>& specs);

}  // namespace sre::cli
