// `sre-probe completion` and `sre-probe man`: thin commands over completion.h's generators.
#include <cstdio>

#include "agent/main/completion.h"
#include "agent/main/probe_output.h"
#include "agent/main/version.h"

namespace sre::cli {

CommandDoc CompletionCommandDoc() {
  return {"completion",
          "bash|zsh",
          "print the shell completion script: source <(sre-probe completion bash)",
          {{"help", "", "show this help"}}};
}

CommandDoc ManCommandDoc() {
  return {"man",
          "",
          "print the manual page, sre-probe(1), in man(7) format: sre-probe man | man -l -",
          {{"help", "", "show this help"}}};
}

int RunCompletionCommand(const std::vector<CommandDoc>& commands,
                         const std::vector<std::string>& args) {
  const CommandDoc doc = CompletionCommandDoc();
  auto flags = ParseFlags(doc.flags, args);
  if (!flags.ok())
    return UsageError(flags.status().message() + "; see sre-probe completion --help");
  if (flags->Get("help") == "true") {
    std::fputs(CommandUsage(doc).c_str(), stdout);
    return 0;
  }
  const auto& shells = flags->positional;
  if (shells.size() != 1) return UsageError("expected one shell: sre-probe completion bash|zsh");
  if (shells[0] == "bash") {
    std::fputs(BashCompletion(commands).c_str(), stdout);
  } else if (shells[0] == "zsh") {
    std::fputs(ZshCompletion(commands).c_str(), stdout);
  } else {
    return UsageError("unknown shell \"" + shells[0] + "\"; expected bash or zsh");
  }
  return 0;
}

int RunManCommand(const std::vector<CommandDoc>& commands, const std::vector<std::string>& args) {
  const CommandDoc doc = ManCommandDoc();
  auto flags = ParseFlags(doc.flags, args);
  if (!flags.ok()) return UsageError(flags.status().message() + "; see sre-probe man --help");
  if (flags->Get("help") == "true") {
    std::fputs(CommandUsage(doc).c_str(), stdout);
    return 0;
  }
  if (!flags->positional.empty()) {
    return UsageError("expected no arguments: sre-probe man | man -l -");
  }
  std::fputs(ManPage(commands, kVersion, ManPageDate()).c_str(), stdout);
  return 0;
}

}  // namespace sre::cli
