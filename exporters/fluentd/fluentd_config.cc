#include "exporters/fluentd/fluentd_config.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <cstdlib>
#include <memory>
#include <set>

namespace sre::exporters::fluentd {
namespace {

constexpr int64_t kMaxWorkers = 256;
constexpr int64_t kMinBodyBytes = 1 << 10;
constexpr int64_t kMaxBodyBytes = 64 << 20;

using CurlUrl = std::unique_ptr<CURLU, decltype(&curl_url_cleanup)>;

std::string UrlPart(CURLU* url, CURLUPart part, unsigned flags = 0) {
  char* value = nullptr;
  if (curl_url_get(url, part, &value, flags) != CURLUE_OK || value == nullptr) return "";
  std::string out = value;
  curl_free(value);
  return out;
}

/// A base URL split into what the endpoints are built from.
struct BaseUrl {
  std::string scheme, host, path;
  int port = 0;
  bool explicit_port = false;
};

Result<BaseUrl> ParseBaseUrl(const std::string& text) {
  const std::string url = text.find("://") == std::string::npos ? "http://" + text : text;
  const auto invalid = [&text](std::string_view why) {
    return Status::Error(fmt::format("\"{}\": {}", text, why));
  };
  CurlUrl parsed(curl_url(), &curl_url_cleanup);
  if (curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return invalid("not a URL like http://127.0.0.1:24220");
  }
  BaseUrl base;
  base.scheme = UrlPart(parsed.get(), CURLUPART_SCHEME);
  if (base.scheme != "http" && base.scheme != "https") {
    return invalid("the scheme must be http or https");
  }
  if (!UrlPart(parsed.get(), CURLUPART_USER).empty()) {
    return invalid("credentials do not belong in the URL (it is the target label)");
  }
  if (!UrlPart(parsed.get(), CURLUPART_QUERY).empty() ||
      !UrlPart(parsed.get(), CURLUPART_FRAGMENT).empty()) {
    return invalid("a base URL has no query or fragment");
  }
  base.host = UrlPart(parsed.get(), CURLUPART_HOST);
  base.path = UrlPart(parsed.get(), CURLUPART_PATH);
  while (!base.path.empty() && base.path.back() == '/') base.path.pop_back();
  if (base.path.ends_with("/api/plugins.json") || base.path.ends_with("/api/plugins")) {
    return invalid(fmt::format("give the base URL: the exporter appends {}", kPluginsPath));
  }
  const std::string port = UrlPart(parsed.get(), CURLUPART_PORT);
  base.explicit_port = !port.empty();
  // curl has checked that the port is a number below 65536.
  base.port = std::atoi(
      (base.explicit_port ? port : UrlPart(parsed.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT))
          .c_str());
  return base;
}

std::optional<std::string> CheckUrls(const std::vector<std::string>& urls) {
  if (urls.empty()) return "urls needs at least one monitor_agent URL";
  for (const std::string& url : urls) {
    if (auto base = ParseBaseUrl(url); !base.ok()) return base.status().message();
  }
  return std::nullopt;
}

std::optional<std::string> CheckCategories(const std::vector<std::string>& categories) {
  for (const std::string& category : categories) {
    if (category != "input" && category != "output" && category != "filter") {
      return fmt::format("unknown plugin category \"{}\": expected input, output or filter",
                         category);
    }
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<Endpoint>> ExpandEndpoints(const std::vector<std::string>& urls,
                                              int64_t workers) {
  std::vector<Endpoint> endpoints;
  std::set<std::string> seen;
  for (const std::string& text : urls) {
    auto base = ParseBaseUrl(text);
    if (!base.ok()) return base.status();
    if (workers > 1 && !base->explicit_port) {
      return Status::Error(fmt::format(
          "\"{}\": with workers, the URL needs worker 0's port (monitor_agent's `port`)", text));
    }
    if (base->port + workers - 1 > 65535) {
      return Status::Error(fmt::format("\"{}\": {} workers from port {} go past port 65535", text,
                                       workers, base->port));
    }
    const auto at_port = [&base](int64_t port) {
      return base->scheme + "://" + base->host +
             (base->explicit_port ? ":" + std::to_string(port) : "") + base->path;
    };
    for (int64_t worker = 0; worker < workers; ++worker) {
      Endpoint endpoint;
      endpoint.target = at_port(base->port);
      const std::string worker_base = at_port(base->port + worker);
      endpoint.url = worker_base + std::string(kPluginsPath);
      if (workers > 1) endpoint.worker = static_cast<int>(worker);
      if (!seen.insert(worker_base).second) {
        return Status::Error(fmt::format("{} is read twice (check urls and workers)", worker_base));
      }
      endpoints.push_back(std::move(endpoint));
    }
  }
  return endpoints;
}

const config::Schema<FluentdConfig>& FluentdSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<FluentdConfig>("fluentd check");
    s->Embed(&FluentdConfig::settings, CheckSettingsSchema());
    s->Field("urls", &FluentdConfig::urls,
             "monitor_agent base URLs, like http://127.0.0.1:24220 (/api/plugins.json is "
             "appended)");
    s->Validate(&FluentdConfig::urls, std::function(CheckUrls));
    s->Field("workers", &FluentdConfig::workers,
             "Fluentd's workers: read ports port..port+N-1 of each URL, labelled worker");
    s->Validate<int64_t>(&FluentdConfig::workers,
                         [](const int64_t& n) -> std::optional<std::string> {
                           if (n >= 1 && n <= kMaxWorkers) return std::nullopt;
                           return fmt::format("workers must be between 1 and {}", kMaxWorkers);
                         });
    s->Field("plugin_ids", &FluentdConfig::plugin_ids,
             "report only these plugins (their @id, or the stable id); empty: all");
    s->Field("types", &FluentdConfig::types, "report only plugins of these @type; empty: all");
    s->Field("categories", &FluentdConfig::categories,
             "report only these plugin categories (input, output, filter); empty: all");
    s->Validate(&FluentdConfig::categories, std::function(CheckCategories));
    s->Field("stable_ids", &FluentdConfig::stable_ids,
             "label plugins without @id as <type>#<n>, not by their object:<hex> id that "
             "changes on every restart");
    s->Field("max_body_bytes", &FluentdConfig::max_body_bytes,
             "a larger /api/plugins.json response fails with body_too_large");
    s->Validate<int64_t>(&FluentdConfig::max_body_bytes,
                         [](const int64_t& n) -> std::optional<std::string> {
                           if (n >= kMinBodyBytes && n <= kMaxBodyBytes) return std::nullopt;
                           return fmt::format("max_body_bytes must be between {} and {}",
                                              kMinBodyBytes, kMaxBodyBytes);
                         });
    s->Field("optional", &FluentdConfig::optional,
             "Fluentd may not run here: a refused connection means absent (not_present)");
    return s;
  }();
  return *schema;
}

}  // namespace sre::exporters::fluentd
