#include "agent/main/completion.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <sstream>

namespace sre::cli {
namespace {

// A command name's words: "config validate" is reached as `config`, then `validate`.
std::vector<std::string> Words(const std::string& name) {
  std::istringstream in(name);
  return {std::istream_iterator<std::string>(in), std::istream_iterator<std::string>()};
}

// The words of a choice argument, "bash|zsh"; empty for anything else ("FILE", "URL...").
std::vector<std::string> Choices(const std::string& arguments) {
  if (arguments.find('|') == std::string::npos) return {};
  std::string spaced = arguments;
  std::replace(spaced.begin(), spaced.end(), '|', ' ');
  return Words(spaced);
}

bool TakesFile(const std::string& value_name) { return value_name == "FILE"; }

// Single-quotes `text` for the shell: nothing inside '' is special but ' itself.
std::string ShellQuote(std::string_view text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// The first words of the commands in table order, and for groups ("config") their second words.
struct CommandTree {
  std::vector<std::string> top;
  std::map<std::string, std::vector<const CommandDoc*>> groups;
};

CommandTree Tree(const std::vector<CommandDoc>& commands) {
  CommandTree tree;
  for (const auto& c : commands) {
    const auto words = Words(c.name);
    if (words.empty()) continue;
    if (std::find(tree.top.begin(), tree.top.end(), words[0]) == tree.top.end()) {
      tree.top.push_back(words[0]);
    }
    if (words.size() > 1) tree.groups[words[0]].push_back(&c);
  }
  return tree;
}

// Escapes text for a zsh `_arguments` spec: the brackets and colons it parses, then the backslash.
std::string ZshSpecEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '[' || c == ']' || c == ':') out += '\\';
    out += c;
  }
  return out;
}

// The `_arguments` spec of a command's positional arguments.
std::string ZshArgumentSpec(const std::string& arguments) {
  if (arguments.empty()) return "";
  const std::string message = ZshSpecEscape(arguments);
  if (const auto choices = Choices(arguments); !choices.empty()) {
    return fmt::format(":{}:({})", message, Join(choices));
  }
  if (arguments == "FILE") return ":FILE:_files";
  // "URL...", "[NAME...]": any number of them, nothing to suggest but their name.
  if (arguments.find("...") != std::string::npos) return fmt::format("*:{}: ", message);
  return fmt::format(":{}: ", message);
}

std::string ZshFlagSpec(const FlagSpec& flag) {
  std::string help = flag.help;
  if (!flag.default_value.empty()) help += " (default: " + flag.default_value + ")";
  std::string spec = fmt::format("{}--{}", flag.repeatable ? "*" : "", flag.name);
  if (flag.value_name.empty()) return spec + "[" + ZshSpecEscape(help) + "]";
  // `--name=` takes its value after "=" or as the next word, as ParseFlags does.
  spec += "=[" + ZshSpecEscape(help) + "]:" + ZshSpecEscape(flag.value_name) + ":";
  if (const auto values = KnownFlagValues(flag); !values.empty()) {
    return spec + "(" + Join(values) + ")";
  }
  return spec + (TakesFile(flag.value_name) ? "_files" : " ");
}

}  // namespace

std::vector<std::string> KnownFlagValues(const FlagSpec& flag) {
  // ParseOutputFormat's list; completion_test checks that each parses.
  if (flag.name == "output") return {"text", "json", "prom", "nagios"};
  return {};
}

std::string BashCompletion(const std::vector<CommandDoc>& commands) {
  const CommandTree tree = Tree(commands);
  std::string groups;  // `config | alert`
  std::string second;  // the second words of each group
  for (const auto& [group, members] : tree.groups) {
    groups += (groups.empty() ? "" : " | ") + ShellQuote(group);
    std::vector<std::string> names;
    for (const CommandDoc* c : members) names.push_back(Words(c->name)[1]);
    second += fmt::format("      {}) words={} ;;\n", ShellQuote(group), ShellQuote(Join(names)));
  }
  // Per command: its flags as typed, the ones taking a value, and what its arguments are.
  std::string per_command;
  std::map<std::string, std::string> value_cases;  // flag name -> how to complete its value
  for (const auto& c : commands) {
    std::vector<std::string> typed, valued;
    for (const auto& flag : c.flags) {
      typed.push_back("--" + flag.name);
      if (flag.value_name.empty()) continue;
      typed.push_back("--" + flag.name + "=");
      valued.push_back(flag.name);
      if (const auto values = KnownFlagValues(flag); !values.empty()) {
        value_cases.emplace(flag.name, "_sre_probe_reply " + ShellQuote(Join(values)));
      } else if (TakesFile(flag.value_name)) {
        value_cases.emplace(flag.name, "_sre_probe_files");
      }
    }
    per_command += fmt::format(
        "    {})\n      flags={}\n      valued={}\n      arg_words={}\n      arg_files={} ;;\n",
        ShellQuote(Join(Words(c.name))), ShellQuote(Join(typed)), ShellQuote(Join(valued)),
        ShellQuote(Join(Choices(c.arguments))), c.arguments == "FILE" ? "1" : "''");
  }
  std::string values;
  for (const auto& [name, action] : value_cases) {
    values += fmt::format("    {}) {} \"$2\" \"$3\" ;;\n", ShellQuote(name), action);
  }
  if (groups.empty()) groups = "''";

  return fmt::format(
      R"(# bash completion for sre-probe: source <(sre-probe completion bash)
# Made by `sre-probe completion bash` from the table that also prints --help. It reads only
# COMP_WORDS and COMP_CWORD, so it needs no bash-completion helpers, and it initialises every
# variable it reads, so it works under `set -u`.

# Adds to COMPREPLY each of the words $1 that starts with $2, prefixed by $3.
_sre_probe_reply() {{
  local word
  local -a list
  read -ra list <<<"$1"  # split without glob expansion, unlike compgen -W
  for word in "${{list[@]}}"; do
    if [[ $word == "$2"* ]]; then COMPREPLY+=("${{3:-}}$word"); fi
  done
}}

# Adds to COMPREPLY the file names starting with $1, prefixed by $2.
_sre_probe_files() {{
  local file
  # Quote names and mark directories; compopt fails outside a completion, which is harmless.
  if [[ -z ${{2:-}} ]]; then compopt -o filenames 2>/dev/null || true; fi
  while IFS= read -r file; do COMPREPLY+=("${{2:-}}$file"); done < <(compgen -f -- "$1")
}}

# Completes the value $2 of flag $1, prefixed by $3.
_sre_probe_value() {{
  case "$1" in
{}  esac
}}

_sre_probe() {{
  local cur="${{COMP_WORDS[COMP_CWORD]:-}}" prev="" words="" n=1 cmd="" flag="" value="" prefix=""
  local flags="" valued="" arg_words="" arg_files=""
  COMPREPLY=()
  if ((COMP_CWORD > 0)); then prev="${{COMP_WORDS[COMP_CWORD - 1]:-}}"; fi

  # The command is one word, or two after a group word such as `config`.
  case "${{COMP_WORDS[1]:-}}" in
    {}) n=2 ;;
  esac
  if ((COMP_CWORD == 1)); then
    _sre_probe_reply {} "$cur"
    return 0
  fi
  if ((COMP_CWORD == 2 && n == 2)); then
    case "${{COMP_WORDS[1]:-}}" in
{}    esac
    _sre_probe_reply "$words" "$cur"
    return 0
  fi
  cmd="${{COMP_WORDS[1]:-}}"
  if ((n == 2)); then cmd+=" ${{COMP_WORDS[2]:-}}"; fi
  case "$cmd" in
{}    *) return 0 ;;
  esac

  # A flag's value: `--flag=VALUE` in one word, or in three (`--flag` `=` `VALUE`) when
  # COMP_WORDBREAKS holds "=", as it does by default; or `--flag VALUE`.
  if [[ $cur == --*=* ]]; then
    flag="${{cur%%=*}}" prefix="${{cur%%=*}}=" value="${{cur#*=}}"
  elif [[ $cur == "=" && $prev == --* ]]; then
    flag="$prev"
  elif [[ $prev == "=" && ${{COMP_WORDS[COMP_CWORD - 2]:-}} == --* ]]; then
    flag="${{COMP_WORDS[COMP_CWORD - 2]}}" value="$cur"
  elif [[ $prev == --* && " $valued " == *" ${{prev#--}} "* ]]; then
    flag="$prev" value="$cur"
  fi
  if [[ -n $flag ]]; then
    _sre_probe_value "${{flag#--}}" "$value" "$prefix"
  elif [[ $cur == -* ]]; then
    _sre_probe_reply "$flags" "$cur"
  elif [[ -n $arg_files ]]; then
    _sre_probe_files "$cur" ""
  else
    _sre_probe_reply "$arg_words" "$cur"
  fi
  return 0
}}

complete -F _sre_probe sre-probe
)",
      values, groups, ShellQuote(Join(tree.top)), second, per_command);
}

std::string ZshCompletion(const std::vector<CommandDoc>& commands) {
  const CommandTree tree = Tree(commands);
  // _describe items are `name:description`; a colon in the name would need escaping, and the
  // whole item is single-quoted for the shell.
  auto item = [](const std::string& name, const std::string& description) {
    return ShellQuote(ZshSpecEscape(name) + ":" + description);
  };
  std::string top;
  for (const auto& word : tree.top) {
    std::string description;
    if (auto group = tree.groups.find(word); group != tree.groups.end()) {
      for (const CommandDoc* c : group->second) {
        description += (description.empty() ? "" : "; ") + Words(c->name)[1] + ": " + c->summary;
      }
    } else {
      for (const auto& c : commands) {
        if (c.name == word) description = c.summary;
      }
    }
    top += "      " + item(word, description) + "\n";
  }
  std::string groups, second;
  for (const auto& [group, members] : tree.groups) {
    groups += (groups.empty() ? "" : "|") + ShellQuote(group);
    second += fmt::format("      {}) commands=(", ShellQuote(group));
    for (const CommandDoc* c : members) second += " " + item(Words(c->name)[1], c->summary);
    second += " ) ;;\n";
  }
  if (groups.empty()) groups = "''";
  std::string per_command;
  for (const auto& c : commands) {
    per_command += fmt::format("    {})\n      specs=(\n", ShellQuote(Join(Words(c.name))));
    for (const auto& flag : c.flags)
      per_command += "        " + ShellQuote(ZshFlagSpec(flag)) + "\n";
    if (auto spec = ZshArgumentSpec(c.arguments); !spec.empty()) {
      per_command += "        " + ShellQuote(spec) + "\n";
    }
    per_command += "      ) ;;\n";
  }

  return fmt::format(R"(#compdef sre-probe
# zsh completion for sre-probe, generated by `sre-probe completion zsh` from the table that also
# prints --help. Load it with `source <(sre-probe completion zsh)` after compinit, or save it as
# _sre_probe in a directory of $fpath.

_sre_probe() {{
  local -a commands specs
  local n=1 cmd
  case "${{words[2]-}}" in
    {}) n=2 ;;
  esac
  if (( CURRENT == 2 )); then
    commands=(
{}    )
    _describe -t commands 'sre-probe command' commands
    return
  fi
  if (( CURRENT == 3 && n == 2 )); then
    case "${{words[2]}}" in
{}    esac
    _describe -t commands "sre-probe ${{words[2]}} command" commands
    return
  fi
  cmd="${{(j: :)words[2,n+1]}}"
  case "$cmd" in
{}    *) return 1 ;;
  esac
  # _arguments sees the command as the first word and its arguments after it.
  words=("${{(@)words[n+1,-1]}}")
  (( CURRENT -= n ))
  _arguments -S "${{specs[@]}}"
}}

# Autoloaded from $fpath, this file is the function's body: define, then complete. Sourced, it
# registers the function.
if [[ "${{funcstack[1]-}}" == _sre_probe ]]; then
  _sre_probe "$@"
elif (( $+functions[compdef] )); then
  compdef _sre_probe sre-probe
else
  print -u2 "sre-probe completion: run 'autoload -U compinit && compinit' before loading it"
fi
)",
                     groups, top, second, per_command);
}

}  // namespace sre::cli
