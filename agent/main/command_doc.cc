#include <fmt/format.h>

#include "agent/main/probe_command.h"

namespace sre::cli {

std::string CommandUsage(const CommandDoc& command) {
  const std::string arguments = command.arguments.empty() ? "" : " " + command.arguments;
  return fmt::format("Usage: sre-probe {}{} [FLAGS]\n\n{}\n\nFlags:\n{}", command.name, arguments,
                     command.summary, RenderFlagHelp(command.flags));
}

std::string MainUsage(const std::vector<CommandDoc>& commands) {
  std::string out =
      "sre-probe: run checks once and say how they went.\n\n"
      "Usage: sre-probe COMMAND ARGUMENTS [FLAGS]\n\nCommands:\n";
  for (const auto& c : commands) {
    out += fmt::format("  {:<16} {:<16} {}\n", c.name, c.arguments, c.summary);
  }
  out +=
      "\nExit codes: 0 OK, 1 warning, 2 critical, 3 unknown (bad input).\n"
      "Run 'sre-probe COMMAND --help' for a command's flags.\n";
  return out;
}

}  // namespace sre::cli
