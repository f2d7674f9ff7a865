#include "agent/server/tls_settings.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <algorithm>
#include <array>
#include <memory>

namespace sre::server {
namespace {

struct NamedClientAuth {
  std::string_view name;
  ClientAuth mode;
};

constexpr std::array<NamedClientAuth, 7> kClientAuthNames = {{
    {"NoClientCert", ClientAuth::kNone},
    {"RequestClientCert", ClientAuth::kRequest},
    {"RequireAnyClientCert", ClientAuth::kRequireAny},
    {"RequireClientCert", ClientAuth::kRequireAny},  // the toolkit's older name
    {"VerifyClientCertIfGiven", ClientAuth::kVerifyIfGiven},
    {"RequireAndVerifyClientCert", ClientAuth::kRequireAndVerify},
    {"", ClientAuth::kNone},
}};

/// A Go cipher suite as GnuTLS's components. TLS 1.3 suites have none: Go does not let them be
/// configured, so the toolkit accepts their names and nothing changes.
struct CipherSuite {
  std::string_view go_name;
  std::string_view key_exchange;
  std::string_view cipher;
  std::string_view mac;
};

// Go's tls.CipherSuites(), the list the toolkit accepts (the insecure ones it refuses too).
constexpr std::array<CipherSuite, 17> kCipherSuites = {{
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "RSA", "AES-128-CBC", "SHA1"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "RSA", "AES-256-CBC", "SHA1"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "RSA", "AES-128-GCM", "AEAD"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "RSA", "AES-256-GCM", "AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA", "AES-128-CBC", "SHA1"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA", "AES-256-CBC", "SHA1"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA", "AES-128-CBC", "SHA1"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA", "AES-256-CBC", "SHA1"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA", "AES-128-GCM", "AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA", "AES-256-GCM", "AEAD"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA", "AES-128-GCM", "AEAD"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA", "AES-256-GCM", "AEAD"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA", "CHACHA20-POLY1305", "AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA", "CHACHA20-POLY1305", "AEAD"},
    {"TLS_AES_128_GCM_SHA256", "", "", ""},
    {"TLS_AES_256_GCM_SHA384", "", "", ""},
    {"TLS_CHACHA20_POLY1305_SHA256", "", "", ""},
}};

constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kCurves = {{
    {"CurveP256", "GROUP-SECP256R1"},
    {"CurveP384", "GROUP-SECP384R1"},
    {"CurveP521", "GROUP-SECP521R1"},
    {"X25519", "GROUP-X25519"},
}};

constexpr std::array<std::string_view, 4> kVersions = {"TLS10", "TLS11", "TLS12", "TLS13"};
constexpr std::array<std::string_view, 4> kGnuTlsVersions = {"VERS-TLS1.0", "VERS-TLS1.1",
                                                             "VERS-TLS1.2", "VERS-TLS1.3"};

template <typename Container, typename Name>
std::string JoinNames(const Container& items, Name name) {
  std::string out;
  for (const auto& item : items) {
    if (name(item).empty()) continue;
    if (!out.empty()) out += ", ";
    out += name(item);
  }
  return out;
}

Result<size_t> VersionIndex(const std::string& key, const std::string& version) {
  auto it = std::find(kVersions.begin(), kVersions.end(), version);
  if (it == kVersions.end()) {
    return Status::Error(fmt::format(
        "{}: unknown TLS version \"{}\"; expected TLS10, TLS11, TLS12 or TLS13", key, version));
  }
  return static_cast<size_t>(it - kVersions.begin());
}

void AddOnce(std::vector<std::string_view>& items, std::string_view item) {
  if (!item.empty() && std::find(items.begin(), items.end(), item) == items.end()) {
    items.push_back(item);
  }
}

struct GnuTlsFree {
  void operator()(gnutls_x509_crt_t crt) const { gnutls_x509_crt_deinit(crt); }
  void operator()(gnutls_certificate_credentials_t cred) const {
    gnutls_certificate_free_credentials(cred);
  }
};

gnutls_datum_t Datum(const std::string& text) {
  return {reinterpret_cast<unsigned char*>(const_cast<char*>(text.data())),
          static_cast<unsigned>(text.size())};
}

}  // namespace

Result<ClientAuth> ParseClientAuth(std::string_view name) {
  for (const auto& [known, mode] : kClientAuthNames) {
    if (known == name) return mode;
  }
  return Status::Error(fmt::format(
      "unknown client_auth_type \"{}\"; expected one of NoClientCert, RequestClientCert, "
      "RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert",
      name));
}

bool RequiresClientCert(ClientAuth mode) {
  return mode == ClientAuth::kRequireAny || mode == ClientAuth::kRequireAndVerify;
}

bool VerifiesClientCert(ClientAuth mode) {
  return mode == ClientAuth::kVerifyIfGiven || mode == ClientAuth::kRequireAndVerify;
}

Result<std::string> GnuTlsPriorities(const TlsOptions& options) {
  Result<size_t> min = VersionIndex("min_version", options.min_version);
  if (!min.ok()) return min.status();
  Result<size_t> max = VersionIndex("max_version", options.max_version);
  if (!max.ok()) return max.status();
  if (*min > *max) {
    return Status::Error(fmt::format("min_version {} is above max_version {}", options.min_version,
                                     options.max_version));
  }
  std::string priorities = "NORMAL:-VERS-ALL";
  for (size_t v = *min; v <= *max; ++v) priorities += fmt::format(":+{}", kGnuTlsVersions[v]);

  if (!options.cipher_suites.empty()) {
    std::vector<std::string_view> key_exchanges, ciphers, macs;
    for (const std::string& name : options.cipher_suites) {
      auto it = std::find_if(kCipherSuites.begin(), kCipherSuites.end(),
                             [&](const CipherSuite& s) { return s.go_name == name; });
      if (it == kCipherSuites.end()) {
        return Status::Error(
            fmt::format("cipher_suites: unknown cipher \"{}\"; expected one of {}", name,
                        JoinNames(kCipherSuites, [](const CipherSuite& s) { return s.go_name; })));
      }
      AddOnce(key_exchanges, it->key_exchange);
      AddOnce(ciphers, it->cipher);
      AddOnce(macs, it->mac);
    }
    if (*max == 3) {
      // TLS 1.3's own suites stay on (Go cannot turn them off either); they need these.
      for (std::string_view c : {"AES-128-GCM", "AES-256-GCM", "CHACHA20-POLY1305"}) {
        AddOnce(ciphers, c);
      }
      AddOnce(macs, "AEAD");
    }
    if (key_exchanges.empty() && *min < 3) {
      return Status::Error(
          "cipher_suites lists only TLS 1.3 suites, which cannot be chosen; with min_version "
          "below TLS13 list at least one TLS 1.2 suite, or leave cipher_suites out");
    }
    priorities += ":-KX-ALL:-CIPHER-ALL:-MAC-ALL";
    for (const auto* group : {&key_exchanges, &ciphers, &macs}) {
      for (std::string_view item : *group) priorities += fmt::format(":+{}", item);
    }
  }
  if (!options.curve_preferences.empty()) {
    priorities += ":-GROUP-ALL";
    for (const std::string& name : options.curve_preferences) {
      auto it = std::find_if(kCurves.begin(), kCurves.end(),
                             [&](const auto& curve) { return curve.first == name; });
      if (it == kCurves.end()) {
        return Status::Error(fmt::format(
            "curve_preferences: unknown curve \"{}\"; expected CurveP256, CurveP384, CurveP521 "
            "or X25519",
            name));
      }
      priorities += fmt::format(":+{}", it->second);
    }
  }
  if (options.prefer_server_cipher_suites) priorities += ":%SERVER_PRECEDENCE";
  return priorities;
}

Status TlsSettings::Check() const {
  std::unique_ptr<gnutls_certificate_credentials_st, GnuTlsFree> credentials;
  {
    gnutls_certificate_credentials_t raw = nullptr;
    if (gnutls_certificate_allocate_credentials(&raw) < 0) {
      return Status::Error("TLS: out of memory");
    }
    credentials.reset(raw);
  }
  const gnutls_datum_t cert = Datum(cert_pem);
  const gnutls_datum_t key = Datum(key_pem);
  // Also checks that the key belongs to the certificate.
  if (int r =
          gnutls_certificate_set_x509_key_mem(credentials.get(), &cert, &key, GNUTLS_X509_FMT_PEM);
      r < 0) {
    return Status::Error(fmt::format("cannot use the certificate and key: {}", gnutls_strerror(r)));
  }
  if (!client_ca_pem.empty()) {
    const gnutls_datum_t ca = Datum(client_ca_pem);
    int count = gnutls_certificate_set_x509_trust_mem(credentials.get(), &ca, GNUTLS_X509_FMT_PEM);
    if (count <= 0) {
      return Status::Error(
          fmt::format("client CA: no certificate could be read{}",
                      count < 0 ? std::string(": ") + gnutls_strerror(count) : ""));
    }
  }
  gnutls_priority_t priority = nullptr;
  const char* error_at = nullptr;
  if (int r = gnutls_priority_init(&priority, priorities.c_str(), &error_at); r < 0) {
    return Status::Error(fmt::format("GnuTLS refused the TLS settings \"{}\" at \"{}\": {}",
                                     priorities, error_at ? error_at : "", gnutls_strerror(r)));
  }
  gnutls_priority_deinit(priority);
  return Status::Ok();
}

std::vector<std::string> CertificateSans(std::string_view der) {
  std::vector<std::string> sans;
  gnutls_x509_crt_t raw = nullptr;
  if (gnutls_x509_crt_init(&raw) < 0) return sans;
  std::unique_ptr<gnutls_x509_crt_int, GnuTlsFree> crt(raw);
  const gnutls_datum_t data = {reinterpret_cast<unsigned char*>(const_cast<char*>(der.data())),
                               static_cast<unsigned>(der.size())};
  if (gnutls_x509_crt_import(crt.get(), &data, GNUTLS_X509_FMT_DER) < 0) return sans;
  for (unsigned i = 0;; ++i) {
    char value[1024];
    size_t size = sizeof(value);
    int type = gnutls_x509_crt_get_subject_alt_name(crt.get(), i, value, &size, nullptr);
    if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) break;
    if (type < 0) continue;  // too long or malformed: not a name anyone could have allowed
    if (type == GNUTLS_SAN_IPADDRESS) {
      char text[INET6_ADDRSTRLEN] = {};
      int family = size == 4 ? AF_INET : size == 16 ? AF_INET6 : 0;
      if (family != 0 && inet_ntop(family, value, text, sizeof(text)) != nullptr) {
        sans.emplace_back(text);
      }
    } else if (type == GNUTLS_SAN_DNSNAME || type == GNUTLS_SAN_RFC822NAME ||
               type == GNUTLS_SAN_URI) {
      sans.emplace_back(value, size);
    }
  }
  return sans;
}

}  // namespace sre::server
