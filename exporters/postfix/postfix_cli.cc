#include "exporters/postfix/postfix_cli.h"

#include "exporters/postfix/postfix_config.h"

namespace sre::exporters::postfix {

cli::ProbeCommand PostfixProbeCommand() {
  cli::ProbeCommand command;
  command.name = "postfix";
  command.exporter = "postfix";
  command.arguments = "";
  command.summary = "read Postfix's queue from showq: depth, oldest message and size per queue";
  command.flags = {
      {"showq-path", "PATH", "the showq socket", PostfixConfig().showq_path},
  };
  command.build_config = [](const cli::ParsedFlags& flags) -> Result<YAML::Node> {
    if (!flags.positional.empty()) {
      return Status::Error("postfix takes no arguments; the socket is --showq-path");
    }
    YAML::Node node;
    node["check"] = "postfix";
    if (flags.Has("showq-path")) node["showq_path"] = flags.Get("showq-path");
    return node;
  };
  return command;
}

}  // namespace sre::exporters::postfix
