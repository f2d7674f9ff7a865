#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/config/schema.h"
#include "agent/net/tls_client.h"

/// Config pieces the network probes (tcp, http_probe) share, with blackbox_exporter's key names.
namespace sre::exporters {

/// blackbox_exporter's `tls_config`.
struct TlsConfig {
  config::FilePath ca_file;
  config::FilePath cert_file;
  config::FilePath key_file;
  std::string server_name;
  bool insecure_skip_verify = false;

  bool configured() const {
    return !ca_file.path.empty() || !cert_file.path.empty() || !server_name.empty() ||
           insecure_skip_verify;
  }
};

const config::Schema<TlsConfig>& TlsConfigSchema();
net::TlsOptions ToTlsOptions(const TlsConfig& config);

/// Loads the CA bundle and the client key pair once, when the config is parsed (off the event
/// loop, and caught by --config.check). An error points at `node`'s `tls_config`.
Result<std::shared_ptr<net::TlsClientContext>> LoadTlsContext(const TlsConfig& config,
                                                              const YAML::Node& node,
                                                              const config::ParseContext& ctx);

/// Validators for Schema::Validate: an error message, or nullopt when the value is fine.
std::optional<std::string> CheckRegex(const std::string& pattern);
std::optional<std::string> CheckRegexList(const std::vector<std::string>& patterns);
std::optional<std::string> CheckIpProtocol(const std::string& protocol);
std::optional<std::string> CheckDnsServers(const std::vector<std::string>& servers);

}  // namespace sre::exporters
