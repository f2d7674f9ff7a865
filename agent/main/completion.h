#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/main/probe_command.h"

namespace sre::cli {

/// `sre-probe completion bash`: a bash completion script (`complete -F _sre_probe sre-probe`)
/// generated from the same table as --help. It completes command names (two-word ones such as
/// `config validate` word by word), then the chosen command's flags (`--name`, and `--name=` for
/// those taking a value), `--output` values, file names for FILE flags and FILE arguments, and
/// the words of an `a|b` argument. It uses plain COMP_WORDS/COMP_CWORD, so it works without the
/// bash-completion package and under `set -u`. Pure function; thread-safe.
std::string BashCompletion(const std::vector<CommandDoc>& commands);

/// `sre-probe completion zsh`: a `#compdef sre-probe` script built on `_describe` and
/// `_arguments`, each flag described by its help. Works both sourced after `compinit` and saved
/// as `_sre_probe` on `$fpath`. Pure function; thread-safe.
std::string ZshCompletion(const std::vector<CommandDoc>& commands);

/// `sre-probe man`: the man(7) page sre-probe(1): NAME, SYNOPSIS, DESCRIPTION, COMMANDS (each
/// with its arguments, summary and flags), OUTPUT, EXIT STATUS, ENVIRONMENT, EXAMPLES, SEE ALSO.
/// `date` goes in the title line as given (YYYY-MM-DD). Pure function; thread-safe.
std::string ManPage(const std::vector<CommandDoc>& commands, std::string_view version,
                    std::string_view date);

/// The man page's date: SOURCE_DATE_EPOCH when set (reproducible packages), else today, UTC, as
/// YYYY-MM-DD. Reads the environment and the clock; thread-safe.
std::string ManPageDate();

/// The values `--NAME` accepts when they are a fixed list (`--output`: text json prom nagios);
/// empty when any value goes. Shared by the completions so they offer the same words.
std::vector<std::string> KnownFlagValues(const FlagSpec& flag);

/// `sre-probe completion bash|zsh` and `sre-probe man`: their entries in the command table, and
/// the commands, which print what the functions above make of `commands` on stdout. `args`
/// follow the command's name. Return the exit code: 0, or 3 on a usage error (an unknown shell
/// says which ones there are).
CommandDoc CompletionCommandDoc();
CommandDoc ManCommandDoc();
int RunCompletionCommand(const std::vector<CommandDoc>& commands,
                         const std::vector<std::string>& args);
int RunManCommand(const std::vector<CommandDoc>& commands, const std::vector<std::string>& args);

}  // namespace sre::cli
