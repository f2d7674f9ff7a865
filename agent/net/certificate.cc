#include "agent/net/certificate.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <iterator>

namespace sre::net {
namespace {

/// RFC 4514 escaping, as Go's pkix.AttributeTypeAndValue printing does it.
std::string EscapeValue(const std::string& value) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const bool special = c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' ||
                         c == ';' || (i == 0 && (c == ' ' || c == '#')) ||
                         (i + 1 == value.size() && c == ' ');
    if (special) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string GoDistinguishedName(const X509_NAME* name) {
  // Go prints pkix.Name from its fields in this order (ToRDNSequence, reversed by String()).
  static const std::pair<int, const char*> kOrder[] = {
      {NID_serialNumber, "SERIALNUMBER"},
      {NID_commonName, "CN"},
      {NID_organizationalUnitName, "OU"},
      {NID_organizationName, "O"},
      {NID_postalCode, "POSTALCODE"},
      {NID_streetAddress, "STREET"},
      {NID_localityName, "L"},
      {NID_stateOrProvinceName, "ST"},
      {NID_countryName, "C"},
  };
  std::string out;
  for (const auto& [nid, label] : kOrder) {
    std::string rdn;
    for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
         i = X509_NAME_get_index_by_NID(name, nid, i)) {
      const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
      unsigned char* utf8 = nullptr;
      const int length = ASN1_STRING_to_UTF8(&utf8, data);
      if (length < 0) continue;
      if (!rdn.empty()) rdn += '+';
      rdn += fmt::format("{}={}", label,
                         EscapeValue(std::string(reinterpret_cast<char*>(utf8), length)));
      OPENSSL_free(utf8);
    }
    if (rdn.empty()) continue;
    if (!out.empty()) out += ',';
    out += rdn;
  }
  return out;
}

std::optional<double> NotAfterUnix(const X509* cert) {
  std::tm tm{};
  if (cert == nullptr || ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return std::nullopt;
  return static_cast<double>(timegm(&tm));
}

CertificateInfo DescribeCertificate(X509* cert) {
  CertificateInfo info;
  if (cert == nullptr) return info;
  info.subject = GoDistinguishedName(X509_get_subject_name(cert));
  info.issuer = GoDistinguishedName(X509_get_issuer_name(cert));
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* general = sk_GENERAL_NAME_value(names, i);
    if (general->type != GEN_DNS) continue;  // Go's DNSNames: the IP and URI SANs are apart
    const ASN1_IA5STRING* dns = general->d.dNSName;
    if (!info.subject_alternative.empty()) info.subject_alternative += ',';
    info.subject_alternative.append(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                    ASN1_STRING_length(dns));
  }
  GENERAL_NAMES_free(names);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &digest_length) == 1) {
    auto to = std::back_inserter(info.fingerprint_sha256);
    for (unsigned int i = 0; i < digest_length; ++i) fmt::format_to(to, "{:02x}", digest[i]);
  }
  return info;
}

}  // namespace sre::net
