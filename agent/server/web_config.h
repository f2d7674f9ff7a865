#pragma once

#include <string>

#include "agent/base/status.h"
#include "agent/config/source.h"
#include "agent/server/http_server.h"

namespace sre::server {

/// Reads a web config file in the Prometheus exporter toolkit's format (`--web.config.file`):
/// `tls_server_config` (cert and key, client CA and client_auth_type, client_allowed_sans,
/// min/max version, cipher_suites, curve_preferences, prefer_server_cipher_suites),
/// `http_server_config` (headers; http2 is accepted and has no effect: the server speaks
/// HTTP/1.1) and `basic_auth_users` (bcrypt hashes). Every file it names is read now, so the
/// result is what the server needs. Errors read `file:line:col: message` for what the YAML says
/// and `file: tls_server_config: ...` for certificates GnuTLS refuses.
Result<ServerSecurity> LoadWebConfig(const std::string& path,
                                     const config::EnvLookup& env = config::ProcessEnv());

/// The same from text, `name` standing for the file in errors and relative paths resolved
/// against `base_dir`. For tests and the fuzz target.
Result<ServerSecurity> ParseWebConfig(const std::string& text, const std::string& name,
                                      const std::string& base_dir,
                                      const config::EnvLookup& env = config::ProcessEnv());

/// The keys of the file, as `--describe web` prints them.
std::string DescribeWebConfig();

}  // namespace sre::server
