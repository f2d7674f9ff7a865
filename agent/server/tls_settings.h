#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/base/status.h"

namespace sre::server {

/// How the server treats client certificates: Go's tls.ClientAuthType, by the names the exporter
/// toolkit's `client_auth_type` takes.
enum class ClientAuth {
  kNone,              ///< NoClientCert: none asked for.
  kRequest,           ///< RequestClientCert: asked for, not required, not verified.
  kRequireAny,        ///< RequireAnyClientCert: required, not verified.
  kVerifyIfGiven,     ///< VerifyClientCertIfGiven: not required; verified when sent.
  kRequireAndVerify,  ///< RequireAndVerifyClientCert: required and verified (mTLS).
};

/// ClientAuth for a toolkit name ("" is NoClientCert); an error lists the valid names.
Result<ClientAuth> ParseClientAuth(std::string_view name);
bool RequiresClientCert(ClientAuth mode);
bool VerifiesClientCert(ClientAuth mode);

/// What the toolkit's TLS keys say, before anything is read from disk.
struct TlsOptions {
  std::string min_version = "TLS12";  ///< TLS10, TLS11, TLS12 or TLS13
  std::string max_version = "TLS13";
  std::vector<std::string> cipher_suites{};      ///< Go names, such as TLS_AES_128_GCM_SHA256
  std::vector<std::string> curve_preferences{};  ///< CurveP256, CurveP384, CurveP521, X25519
  bool prefer_server_cipher_suites = true;
};

/// The GnuTLS priority string for `options`, or an error naming the unknown version, suite or
/// curve. GnuTLS enables suites by component (key exchange, cipher, MAC), not one by one: the
/// TLS 1.2 suites offered are every combination of the components of the listed ones. TLS 1.3
/// suites are not configurable, as in Go.
Result<std::string> GnuTlsPriorities(const TlsOptions& options);

/// Everything the server's TLS needs, read and checked: the PEM texts are handed to
/// libmicrohttpd as they are. A plain value, safe to share between threads once built.
struct TlsSettings {
  std::string cert_pem;       ///< certificate chain, leaf first
  std::string key_pem;        ///< its private key
  std::string client_ca_pem;  ///< CAs that sign client certificates; empty when not verifying
  std::string priorities;     ///< GnuTLS priority string
  ClientAuth client_auth = ClientAuth::kNone;
  /// When not empty, a client certificate must carry one of these SANs (DNS, IP, e-mail, URI),
  /// exactly as written.
  std::vector<std::string> client_allowed_sans{};

  /// Checks that the key matches the certificate, that the CA text holds certificates, and that
  /// GnuTLS accepts the priorities; an error says which part is wrong.
  Status Check() const;
  bool operator==(const TlsSettings&) const = default;
};

/// The subject alternative names of a DER certificate as Go prints them (DNS names, e-mail
/// addresses, IP addresses, URIs); empty when it has none or cannot be parsed.
std::vector<std::string> CertificateSans(std::string_view der);

}  // namespace sre::server
