#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/base/status.h"

namespace sre::exporters::php_fpm {

/// A pool's status address in hipages php-fpm_exporter's `--phpfpm.scrape-uri` syntax:
///   tcp://127.0.0.1:9000/status
///   unix:///run/php/php8.2-fpm.sock;/status
/// so the URIs users already configure (and the `scrape_uri` label values their dashboards
/// filter on) carry over unchanged.
struct ScrapeUri {
  std::string text;       ///< as configured: the `scrape_uri` label
  std::string unix_path;  ///< set for unix://
  std::string host;       ///< set for tcp:// (a name or an IP literal, without brackets)
  uint16_t port = 0;
  std::string status_path = "/status";  ///< SCRIPT_NAME and SCRIPT_FILENAME of the request

  /// Parses `text`; the error says what was expected.
  static Result<ScrapeUri> Parse(std::string_view text);
  /// The URI for a discovered socket: "unix://PATH;/status".
  static ScrapeUri ForSocket(const std::string& path, const std::string& status_path);
};

}  // namespace sre::exporters::php_fpm
