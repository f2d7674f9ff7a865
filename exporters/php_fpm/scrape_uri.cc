#include "exporters/php_fpm/scrape_uri.h"

#include <fmt/format.h>

#include "agent/net/ip_address.h"

namespace sre::exporters::php_fpm {
namespace {

constexpr std::string_view kUnix = "unix://";
constexpr std::string_view kTcp = "tcp://";

Status Invalid(std::string_view text, std::string_view why) {
  return Status::Error(fmt::format(
      "invalid scrape_uri \"{}\": {}; expected tcp://HOST:PORT/PATH or unix:///SOCKET;/PATH", text,
      why));
}

bool ValidStatusPath(std::string_view path) {
  return path.size() > 1 && path.front() == '/' &&
         path.find_first_of("?# \t\r\n") == std::string_view::npos;
}

}  // namespace

Result<ScrapeUri> ScrapeUri::Parse(std::string_view text) {
  ScrapeUri uri;
  uri.text = std::string(text);
  if (text.starts_with(kUnix)) {
    std::string_view rest = text.substr(kUnix.size());
    const size_t semicolon = rest.find(';');
    uri.unix_path = std::string(rest.substr(0, semicolon));
    if (uri.unix_path.empty() || uri.unix_path.front() != '/') {
      return Invalid(text, "the socket path must be absolute");
    }
    if (semicolon != std::string_view::npos)
      uri.status_path = std::string(rest.substr(semicolon + 1));
  } else if (text.starts_with(kTcp)) {
    std::string_view rest = text.substr(kTcp.size());
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos) return Invalid(text, "the status path is missing");
    auto host_port = net::HostPort::Parse(rest.substr(0, slash));
    if (!host_port) return Invalid(text, "expected HOST:PORT after tcp://");
    uri.host = host_port->host;
    uri.port = host_port->port;
    uri.status_path = std::string(rest.substr(slash));
  } else {
    return Invalid(text, "the scheme must be tcp:// or unix://");
  }
  if (!ValidStatusPath(uri.status_path)) {
    return Invalid(text, fmt::format("\"{}\" is not a status path like /status", uri.status_path));
  }
  return uri;
}

ScrapeUri ScrapeUri::ForSocket(const std::string& path, const std::string& status_path) {
  ScrapeUri uri;
  uri.text = fmt::format("unix://{};{}", path, status_path);
  uri.unix_path = path;
  uri.status_path = status_path;
  return uri;
}

}  // namespace sre::exporters::php_fpm
