#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <optional>
#include <string>

#include "agent/base/status.h"
#include "agent/core/reason.h"

namespace sre::net {

/// TLS settings of a client connection.
struct TlsOptions {
  std::string ca_file;    ///< empty: the system's trust store
  std::string cert_file;  ///< client certificate (mTLS), with key_file
  std::string key_file;
  std::string server_name;  ///< SNI and the name verified; empty: the target's host
  bool insecure_skip_verify = false;
};

/// A client SSL_CTX built once per check configuration (loading a CA bundle is slow).
/// Immutable after creation; shareable across connections on the loop thread.
class TlsClientContext {
 public:
  static Result<std::shared_ptr<TlsClientContext>> Create(const TlsOptions& options);
  ~TlsClientContext();
  SSL_CTX* get() const { return ctx_; }
  const TlsOptions& options() const { return options_; }

 private:
  TlsClientContext(SSL_CTX* ctx, TlsOptions options) : ctx_(ctx), options_(std::move(options)) {}
  SSL_CTX* ctx_;
  TlsOptions options_;
};

/// Drains OpenSSL's (thread-local) error queue into one line.
std::string OpenSslErrors();

/// The earliest notAfter of the certificates the peer sent, as Unix seconds.
std::optional<double> EarliestCertExpiry(const SSL* ssl);

/// "TLS 1.3", "TLS 1.2", ... for SSL_version().
std::string TlsVersionName(int version);

/// A failed certificate verification (SSL_get_verify_result) as a reason.
Reason VerifyReason(long result);

}  // namespace sre::net
