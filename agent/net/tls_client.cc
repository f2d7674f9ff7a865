#include "agent/net/tls_client.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "agent/net/certificate.h"

namespace sre::net {

/// Drains OpenSSL's (thread-local) error queue into one line.
std::string OpenSslErrors() {
  std::string out;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!out.empty()) out += "; ";
    out += buffer;
  }
  return out.empty() ? "unknown error" : out;
}

/// The earliest notAfter of the certificates the peer sent, as Unix seconds.
std::optional<double> EarliestCertExpiry(const SSL* ssl) {
  std::optional<double> earliest;
  auto consider = [&earliest](const X509* cert) {
    const auto seconds = NotAfterUnix(cert);
    if (seconds && (!earliest || *seconds < *earliest)) earliest = seconds;
  };
  // On the client side the chain includes the leaf.
  if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
    for (int i = 0; i < sk_X509_num(chain); ++i) consider(sk_X509_value(chain, i));
  } else {
    consider(SSL_get0_peer_certificate(ssl));
  }
  return earliest;
}

std::string TlsVersionName(int version) {
  switch (version) {
    case TLS1_3_VERSION:
      return "TLS 1.3";
    case TLS1_2_VERSION:
      return "TLS 1.2";
    case TLS1_1_VERSION:
      return "TLS 1.1";
    case TLS1_VERSION:
      return "TLS 1.0";
    default:
      return "unknown";
  }
}

/// A failed certificate verification (SSL_get_verify_result) as a reason.
Reason VerifyReason(long result) {
  switch (result) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return Reason::kTlsExpired;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return Reason::kTlsHostnameMismatch;
    // Self-signed, unknown issuer, untrusted root, bad signature, not yet valid, ...: the
    // certificate cannot be trusted.
    default:
      return Reason::kTlsUntrusted;
  }
}

TlsClientContext::~TlsClientContext() { SSL_CTX_free(ctx_); }

Result<std::shared_ptr<TlsClientContext>> TlsClientContext::Create(const TlsOptions& options) {
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        &SSL_CTX_free);
  if (!ctx) return Status::Error("tls: SSL_CTX_new: " + OpenSslErrors());
  // Verification runs during the handshake but never aborts it; TcpDialer reads the result.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  // Many servers close without close_notify: treat that as an ordinary end of stream.
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE);

  if (!options.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), options.ca_file.c_str(), nullptr) != 1) {
      return Status::Error(fmt::format("ca_file {}: {}", options.ca_file, OpenSslErrors()));
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
    return Status::Error("tls: cannot load the system trust store: " + OpenSslErrors());
  }

  if (options.cert_file.empty() != options.key_file.empty()) {
    return Status::Error("tls: cert_file and key_file must be set together");
  }
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), options.cert_file.c_str()) != 1) {
      return Status::Error(fmt::format("cert_file {}: {}", options.cert_file, OpenSslErrors()));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return Status::Error(fmt::format("key_file {}: {}", options.key_file, OpenSslErrors()));
    }
    if (SSL_CTX_check_private_key(ctx.get()) != 1) {
      return Status::Error(fmt::format("key_file {} does not match cert_file {}: {}",
                                       options.key_file, options.cert_file, OpenSslErrors()));
    }
  }
  return std::shared_ptr<TlsClientContext>(new TlsClientContext(ctx.release(), options));
}

}  // namespace sre::net
