#pragma once

#include <curl/curl.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sre::server {

/// What a test request got back.
struct Reply {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // Lower-case names.
};

struct FetchOptions {
  std::string method = "GET";
  std::optional<std::string> body{};
  bool chunked = false;  ///< send the body with no declared size
  std::vector<std::string> headers{};
  std::string ca_file{};        ///< for https URLs: the CA (or self-signed certificate) to trust
  std::string user_password{};  ///< "user:password" for basic auth
  /// A handle to reuse, keeping its connection alive between calls; nullptr: a fresh one.
  CURL* handle = nullptr;
  std::chrono::milliseconds timeout{5000};
};

/// One request with libcurl, for the server's tests. curl_global_init must have
/// run: linking this file adds a gtest environment that does it.
Reply Fetch(const std::string& url, const FetchOptions& options = {});

}  // namespace sre::server
