#include "tests/support/test_pki.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>

namespace sre::testing {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "test pki: %s\n", what.c_str());
  ERR_print_errors_fp(stderr);
  std::abort();
}

EVP_PKEY* NewKey() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) Die("EC key generation failed");
  return key;
}

void AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (extension == nullptr) Die("extension " + value);
  X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
}

/// A certificate for `key` named `common_name`, signed by `issuer_key` (self-signed when `issuer`
/// is null).
X509* MakeCertificate(EVP_PKEY* key, const std::string& common_name, X509* issuer,
                      EVP_PKEY* issuer_key, long serial, bool is_ca,
                      std::chrono::seconds not_before, std::chrono::seconds not_after,
                      const std::string& subject_alt_names) {
  X509* cert = X509_new();
  X509_set_version(cert, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), static_cast<long>(not_before.count()));
  X509_gmtime_adj(X509_getm_notAfter(cert), static_cast<long>(not_after.count()));
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("sre-agent tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer) : name);

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert, cert, nullptr, nullptr, 0);
  AddExtension(cert, &ctx, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
  AddExtension(cert, &ctx, NID_key_usage,
               is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  AddExtension(cert, &ctx, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) AddExtension(cert, &ctx, NID_authority_key_identifier, "keyid:always");
  if (!is_ca) AddExtension(cert, &ctx, NID_ext_key_usage, "serverAuth");
  if (!subject_alt_names.empty()) {
    AddExtension(cert, &ctx, NID_subject_alt_name, subject_alt_names);
  }
  if (X509_sign(cert, issuer_key, EVP_sha256()) == 0) Die("signing " + common_name);
  return cert;
}

std::string Pem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  return pem;
}

std::string Pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  return pem;
}

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/sre-test-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) Die("mkdtemp " + pattern);
  // Readable by others: dnsmasq, started as root, reads its hosts file after dropping to nobody.
  chmod(pattern.c_str(), 0755);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::WriteFile(const std::string& name, const std::string& contents) const {
  const std::string file = path_ + "/" + name;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << contents;
  out.close();
  if (!out) Die("writing " + file);
  return file;
}

TestPki::TestPki() {
  ca_key_ = NewKey();
  ca_cert_ = MakeCertificate(ca_key_, "sre-agent test CA", nullptr, ca_key_, serial_++, true,
                             -std::chrono::hours(1), std::chrono::hours(24 * 365), "");
  ca_file_ = dir_.WriteFile("ca.pem", Pem(ca_cert_));
}

TestPki::~TestPki() {
  X509_free(ca_cert_);
  EVP_PKEY_free(ca_key_);
}

CertFiles TestPki::Issue(const std::string& name, const LeafOptions& options) {
  EVP_PKEY* key = NewKey();
  std::string alt_names;
  for (const std::string& dns : options.dns_names) {
    alt_names += (alt_names.empty() ? "DNS:" : ",DNS:") + dns;
  }
  for (const std::string& ip : options.ip_addresses) {
    alt_names += (alt_names.empty() ? "IP:" : ",IP:") + ip;
  }
  const std::string common_name = options.dns_names.empty() ? name : options.dns_names.front();
  X509* cert = options.self_signed
                   ? MakeCertificate(key, common_name, nullptr, key, serial_++, false,
                                     options.not_before, options.not_after, alt_names)
                   : MakeCertificate(key, common_name, ca_cert_, ca_key_, serial_++, false,
                                     options.not_before, options.not_after, alt_names);
  CertFiles files;
  std::string chain = Pem(cert);
  if (!options.self_signed) chain += Pem(ca_cert_);
  files.cert = dir_.WriteFile(name + ".pem", chain);
  files.key = dir_.WriteFile(name + ".key", Pem(key));
  files.not_after = static_cast<double>(std::time(nullptr) + options.not_after.count());
  X509_free(cert);
  EVP_PKEY_free(key);
  return files;
}

}  // namespace sre::testing
