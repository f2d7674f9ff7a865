#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "tests/support/test_pki.h"

namespace sre::testing {

/// A dnsmasq of the test's own on 127.0.0.1 (a free port, UDP and TCP), answering only from a
/// hosts file the test writes, for names with several addresses without touching /etc. Stopped
/// by PID in the destructor.
class Dnsmasq {
 public:
  static constexpr const char* kBinary = "/usr/sbin/dnsmasq";
  /// Whether the binary is installed.
  static bool Available();

  /// Starts dnsmasq serving `hosts` (hosts-file lines) and names under `.test` only (others
  /// are NXDOMAIN), then polls with an A query for `probe_name` until it answers (10 s at most).
  Dnsmasq(const std::string& hosts, const std::string& probe_name);
  ~Dnsmasq();
  Dnsmasq(const Dnsmasq&) = delete;
  Dnsmasq& operator=(const Dnsmasq&) = delete;

  /// Empty when dnsmasq runs and answers; otherwise what went wrong (with its log).
  const std::string& error() const { return error_; }
  uint16_t port() const { return port_; }
  /// "127.0.0.1:PORT", for DnsResolver servers.
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  bool Start(const std::string& hosts_file, const std::string& probe_name, std::string* error);
  void Stop();

  TempDir dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string error_;
};

}  // namespace sre::testing
