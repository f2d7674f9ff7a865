#include "exporters/php_fpm/php_fpm_cli.h"

namespace sre::exporters::php_fpm {

cli::ProbeCommand PhpFpmProbeCommand() {
  cli::ProbeCommand command;
  command.name = "php-fpm";
  command.exporter = "php_fpm";
  command.arguments = "URI...";
  command.summary =
      "read PHP-FPM pool status over FastCGI: tcp://HOST:PORT/status, unix:///SOCKET;/status";
  command.flags = {
      {"socket-glob", "PATTERN",
       "also read every pool whose unix socket matches, like /run/php/*.sock"},
      {"status-path", "PATH", "pm.status_path of the pools found by --socket-glob", "/status"},
      {"processes", "", "list every worker: state, pid, requests, current request"},
      {"fix-process-count", "", "count idle/active from the process list (php bug #76003)"},
  };
  command.build_config = [](const cli::ParsedFlags& flags) -> Result<YAML::Node> {
    if (flags.positional.empty() && !flags.Has("socket-glob")) {
      return Status::Error(
          "php-fpm takes one or more scrape URIs, like tcp://127.0.0.1:9000/status or "
          "unix:///run/php/php8.2-fpm.sock;/status, or --socket-glob");
    }
    YAML::Node node;
    node["check"] = flags.positional.size() == 1 ? flags.positional[0] : "php-fpm";
    for (const std::string& uri : flags.positional) node["scrape_uri"].push_back(uri);
    if (flags.Has("socket-glob")) node["socket_glob"] = flags.Get("socket-glob");
    if (flags.Has("status-path")) node["status_path"] = flags.Get("status-path");
    if (flags.Get("processes") == "true") node["processes"] = true;
    if (flags.Get("fix-process-count") == "true") node["fix_process_count"] = true;
    return node;
  };
  return command;
}

}  // namespace sre::exporters::php_fpm
