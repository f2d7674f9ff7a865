#pragma once

#include <openssl/x509.h>

#include <optional>
#include <string>

namespace sre::net {

/// A certificate described as blackbox_exporter labels `probe_ssl_last_chain_info`, so the label
/// values are the same whichever of the two probes a target.
struct CertificateInfo {
  std::string subject;              ///< Go's pkix.Name order: "CN=web,OU=Ops,O=Example,C=DE"
  std::string issuer;               ///< the same format
  std::string subject_alternative;  ///< DNS names, comma-separated
  std::string fingerprint_sha256;   ///< lower-case hex of the DER encoding
};

CertificateInfo DescribeCertificate(X509* cert);

/// The certificate's notAfter as Unix seconds; nullopt when unreadable.
std::optional<double> NotAfterUnix(const X509* cert);

/// A distinguished name formatted as Go's pkix.Name.String(): the common attributes in a fixed
/// order (SERIALNUMBER, CN, OU, O, POSTALCODE, STREET, L, ST, C), several values of one
/// attribute joined with "+", RFC 4514 escapes.
std::string GoDistinguishedName(const X509_NAME* name);

}  // namespace sre::net
