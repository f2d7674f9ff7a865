#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/config/schema.h"
#include "agent/core/check_settings.h"
#include "agent/net/tcp_dialer.h"
#include "exporters/common/probe_config.h"

namespace sre::exporters::tcp {

/// One line-based exchange step, as blackbox_exporter's `query_response`.
struct QueryStepConfig {
  std::string expect;  ///< regex a received line must match before going on
  std::string send;    ///< line to send ("\n" is appended)
};

/// One TCP endpoint check.
struct TcpConfig {
  CheckSettings settings;
  std::string target;  ///< host:port
  std::string preferred_ip_protocol = "ip4";
  std::vector<std::string> dns_servers;
  bool tls = false;
  TlsConfig tls_config;
  std::vector<QueryStepConfig> query_response;

  /// Built from tls_config when the config is parsed (not a key).
  std::shared_ptr<net::TlsClientContext> tls_context;
};

const config::Schema<TcpConfig>& TcpSchema();

}  // namespace sre::exporters::tcp
