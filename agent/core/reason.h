#pragma once

#include <array>
#include <string_view>

namespace sre {

/// Why a check failed: one closed list shared by every exporter (docs/reasons.md explains each).
/// Adding a value needs an ADR; dashboards and alerts match on these strings.
enum class Reason {
  kNone,
  kTimeout,
  kDnsError,
  kConnectionRefused,
  kConnectionReset,
  kConnectionFailed,
  kTlsHandshakeError,
  kTlsUntrusted,
  kTlsExpired,
  kTlsHostnameMismatch,
  kReadError,
  kProtocolError,
  kStatusMismatch,
  kBodyMismatch,
  kHeaderMismatch,
  kBodyTooLarge,
  kRedirectLoop,
  kNotPresent,
  kPermissionDenied,
};

/// Every failure reason (kNone excluded), in declaration order.
inline constexpr std::array kFailureReasons = {
    Reason::kTimeout,         Reason::kDnsError,         Reason::kConnectionRefused,
    Reason::kConnectionReset, Reason::kConnectionFailed, Reason::kTlsHandshakeError,
    Reason::kTlsUntrusted,    Reason::kTlsExpired,       Reason::kTlsHostnameMismatch,
    Reason::kReadError,       Reason::kProtocolError,    Reason::kStatusMismatch,
    Reason::kBodyMismatch,    Reason::kHeaderMismatch,   Reason::kBodyTooLarge,
    Reason::kRedirectLoop,    Reason::kNotPresent,       Reason::kPermissionDenied,
};

/// The label value: "timeout", "dns_error", ...; "" for kNone.
std::string_view ReasonName(Reason reason);

}  // namespace sre
