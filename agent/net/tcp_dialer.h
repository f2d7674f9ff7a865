#pragma once

#include <re2/re2.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/base/clock.h"
#include "agent/base/status.h"
#include "agent/core/reason.h"
#include "agent/net/event_loop.h"
#include "agent/net/ip_address.h"
#include "agent/net/tls_client.h"

namespace sre::net {

/// One step of a line-based conversation, as blackbox_exporter's query_response: first wait for
/// a line matching `expect` (when set), then write `send` followed by "\n" (when non-empty).
struct QueryStep {
  std::string expect_source;               ///< the regex as written, for messages
  std::shared_ptr<const re2::RE2> expect;  ///< RE2: linear time on hostile input, Go syntax
  std::string send;
};

struct DialOptions {
  IpAddress address;
  uint16_t port = 0;
  std::shared_ptr<TlsClientContext> tls;  ///< null: plain TCP
  std::string tls_host;                   ///< name for SNI and verification when TLS is on
  std::vector<QueryStep> steps;
  TimePoint deadline;
};

struct DialResult {
  Reason reason = Reason::kNone;  ///< kNone on success
  std::string message;            ///< what failed, for people ("connect: Connection refused")
  Duration connect_time{0};       ///< until the TCP connection was established
  Duration tls_time{0};           ///< TLS handshake, when TLS is on
  Duration total{0};
  bool failed_due_to_regex = false;
  /// Earliest notAfter of the peer's chain (Unix seconds), also when verification failed.
  std::optional<double> earliest_cert_expiry;
  std::string tls_version;  ///< "TLS 1.3", when a handshake completed
};

/// One connection attempt: non-blocking connect, optional TLS handshake (the certificate is read
/// even when untrusted or expired, then the verification result decides), then the query steps.
/// Never blocks; finishes by `deadline` with kTimeout at the latest. Destroying the dialer cancels
/// it without calling `done`. Loop-thread only.
class TcpDialer {
 public:
  using Done = std::function<void(DialResult)>;
  static std::unique_ptr<TcpDialer> Start(EventLoop& loop, DialOptions options, Done done);
  virtual ~TcpDialer() = default;
};

/// Maps a connect()/read()/write() errno to a failure reason (ECONNREFUSED -> kConnectionRefused).
Reason ReasonFromErrno(int error);

}  // namespace sre::net
