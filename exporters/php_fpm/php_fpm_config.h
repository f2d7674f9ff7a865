#pragma once

#include <string>
#include <vector>

#include "agent/config/schema.h"
#include "agent/core/check_settings.h"
#include "exporters/php_fpm/scrape_uri.h"

namespace sre::exporters::php_fpm {

/// One php_fpm check: the pools it reads, named or discovered.
struct PhpFpmConfig {
  CheckSettings settings;
  /// Status addresses in hipages php-fpm_exporter's syntax (its --phpfpm.scrape-uri).
  std::vector<std::string> scrape_uri;
  /// A glob of unix sockets ("/run/php/*.sock"), matched at every collection: pools appear and
  /// disappear with their sockets.
  std::string socket_glob;
  /// The status path asked of discovered sockets (php-fpm's pm.status_path).
  std::string status_path = "/status";
  /// The per-process families (phpfpm_process_*, label `child`): one series per worker and
  /// family, so off unless asked for.
  bool processes = false;
  /// Count idle/active/total from the process list instead of php-fpm's own counters, which
  /// are wrong on some versions (php bug #76003); hipages' --phpfpm.fix-process-count.
  bool fix_process_count = false;

  /// Parsed `scrape_uri` (not a key).
  std::vector<ScrapeUri> uris;
};

const config::Schema<PhpFpmConfig>& PhpFpmSchema();

}  // namespace sre::exporters::php_fpm
