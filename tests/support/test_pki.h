#pragma once

#include <openssl/types.h>

#include <chrono>
#include <string>
#include <vector>

/// Certificates made in the test with the OpenSSL API (EC P-256, SHA-256), written as PEM files
/// into a temporary directory that the destructor removes.
namespace sre::testing {

/// A directory under $TMPDIR (or /tmp), removed with its contents by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  /// Writes `contents` to path()/name and returns the full path.
  std::string WriteFile(const std::string& name, const std::string& contents) const;

 private:
  std::string path_;
};

struct CertFiles {
  std::string cert;      ///< PEM: the certificate, then its issuer when not self-signed (a chain)
  std::string key;       ///< PEM private key
  double not_after = 0;  ///< Unix seconds
};

struct LeafOptions {
  std::vector<std::string> dns_names = {"localhost"};
  std::vector<std::string> ip_addresses = {"127.0.0.1"};
  bool self_signed = false;
  /// Validity relative to now; both in the past for an expired certificate.
  std::chrono::seconds not_before = -std::chrono::hours(1);
  std::chrono::seconds not_after = std::chrono::hours(24 * 30);
};

/// A test certificate authority and the leaves it issues.
class TestPki {
 public:
  TestPki();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  /// The CA certificate (PEM), for TlsOptions::ca_file.
  const std::string& ca_file() const { return ca_file_; }
  /// Issues a leaf (signed by the CA, or by itself) and writes it as `name`.pem / `name`.key.
  CertFiles Issue(const std::string& name, const LeafOptions& options = {});

 private:
  TempDir dir_;
  EVP_PKEY* ca_key_ = nullptr;
  X509* ca_cert_ = nullptr;
  std::string ca_file_;
  long serial_ = 1;
};

}  // namespace sre::testing
