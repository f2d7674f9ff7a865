#include "exporters/php_fpm/php_fpm_config.h"

#include <fmt/format.h>

#include <set>

namespace sre::exporters::php_fpm {

const config::Schema<PhpFpmConfig>& PhpFpmSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<PhpFpmConfig>("php_fpm check");
    s->Embed(&PhpFpmConfig::settings, CheckSettingsSchema());
    s->Field("scrape_uri", &PhpFpmConfig::scrape_uri,
             "pool status addresses: tcp://HOST:PORT/status, unix:///SOCKET;/status");
    s->Validate<std::vector<std::string>>(
        &PhpFpmConfig::scrape_uri,
        [](const std::vector<std::string>& uris) -> std::optional<std::string> {
          std::set<std::string> seen;
          for (const std::string& uri : uris) {
            if (auto parsed = ScrapeUri::Parse(uri); !parsed.ok()) return parsed.status().message();
            if (!seen.insert(uri).second)
              return fmt::format("scrape_uri \"{}\" is listed twice", uri);
          }
          return std::nullopt;
        });
    s->Field("socket_glob", &PhpFpmConfig::socket_glob,
             "unix sockets to discover pools from, like /run/php/*.sock");
    s->Validate<std::string>(&PhpFpmConfig::socket_glob,
                             [](const std::string& glob) -> std::optional<std::string> {
                               if (glob.empty() || glob.front() == '/') return std::nullopt;
                               return "socket_glob must be an absolute path pattern";
                             });
    s->Field("status_path", &PhpFpmConfig::status_path,
             "pm.status_path of the pools found by socket_glob");
    s->Validate<std::string>(&PhpFpmConfig::status_path,
                             [](const std::string& path) -> std::optional<std::string> {
                               auto uri = ScrapeUri::Parse("unix:///x;" + path);
                               if (uri.ok()) return std::nullopt;
                               return fmt::format("\"{}\" is not a status path like /status", path);
                             });
    s->Field("processes", &PhpFpmConfig::processes,
             "export the per-process families (one series per worker)");
    s->Field("fix_process_count", &PhpFpmConfig::fix_process_count,
             "count idle/active/total from the process list (php bug #76003)");
    s->Check([](const PhpFpmConfig& c) -> std::optional<std::string> {
      if (c.scrape_uri.empty() && c.socket_glob.empty())
        return "a php_fpm check needs scrape_uri, socket_glob or both";
      return std::nullopt;
    });
    return s;
  }();
  return *schema;
}

}  // namespace sre::exporters::php_fpm
