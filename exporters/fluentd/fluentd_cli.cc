#include "exporters/fluentd/fluentd_cli.h"

namespace sre::exporters::fluentd {

cli::ProbeCommand FluentdProbeCommand() {
  cli::ProbeCommand command;
  command.name = "fluentd";
  command.exporter = "fluentd";
  command.arguments = "URL...";
  command.summary =
      "read Fluentd's monitor_agent (http://127.0.0.1:24220): buffers, queue, retries per output";
  command.flags = {
      {"workers", "N", "Fluentd's workers: read ports PORT..PORT+N-1 of each URL", "1"},
      {"plugin-id", "ID", "only this plugin (its @id or stable id)", "", true},
      {"type", "TYPE", "only plugins of this @type", "", true},
      {"category", "CATEGORY", "only this category: input, output, filter (default: output)", "",
       true},
      {"all", "", "every plugin, whatever its category"},
      {"object-ids", "", "label plugins without @id by Fluentd's object:<hex> id"},
      {"max-body-bytes", "N", "refuse a larger response", "8388608"},
  };
  command.build_config = [](const cli::ParsedFlags& flags) -> Result<YAML::Node> {
    if (flags.positional.empty()) {
      return Status::Error(
          "fluentd takes one or more monitor_agent URLs, like http://127.0.0.1:24220");
    }
    if (flags.Has("category") && flags.Get("all") == "true") {
      return Status::Error("--all and --category exclude each other");
    }
    YAML::Node node;
    // One URL names the check; several, or one with workers, are "fluentd" and the target says
    // which.
    const bool one = flags.positional.size() == 1 && flags.Get("workers", "1") == "1";
    node["check"] = one ? flags.positional[0] : "fluentd";
    for (const std::string& url : flags.positional) node["urls"].push_back(url);
    if (flags.Has("workers")) node["workers"] = flags.Get("workers");
    for (const std::string& id : flags.GetAll("plugin-id")) node["plugin_ids"].push_back(id);
    for (const std::string& type : flags.GetAll("type")) node["types"].push_back(type);
    for (const std::string& c : flags.GetAll("category")) node["categories"].push_back(c);
    if (flags.Get("all") == "true") node["categories"] = YAML::Node(YAML::NodeType::Sequence);
    if (flags.Get("object-ids") == "true") node["stable_ids"] = false;
    if (flags.Has("max-body-bytes")) node["max_body_bytes"] = flags.Get("max-body-bytes");
    return node;
  };
  return command;
}

}  // namespace sre::exporters::fluentd
