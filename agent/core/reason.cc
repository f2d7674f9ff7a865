#include "agent/core/reason.h"

namespace sre {

std::string_view ReasonName(Reason reason) {
  switch (reason) {
    case Reason::kNone:
      return "";
    case Reason::kTimeout:
      return "timeout";
    case Reason::kDnsError:
      return "dns_error";
    case Reason::kConnectionRefused:
      return "connection_refused";
    case Reason::kConnectionReset:
      return "connection_reset";
    case Reason::kConnectionFailed:
      return "connection_failed";
    case Reason::kTlsHandshakeError:
      return "tls_handshake_error";
    case Reason::kTlsUntrusted:
      return "tls_untrusted";
    case Reason::kTlsExpired:
      return "tls_expired";
    case Reason::kTlsHostnameMismatch:
      return "tls_hostname_mismatch";
    case Reason::kReadError:
      return "read_error";
    case Reason::kProtocolError:
      return "protocol_error";
    case Reason::kStatusMismatch:
      return "status_mismatch";
    case Reason::kBodyMismatch:
      return "body_mismatch";
    case Reason::kHeaderMismatch:
      return "header_mismatch";
    case Reason::kBodyTooLarge:
      return "body_too_large";
    case Reason::kRedirectLoop:
      return "redirect_loop";
    case Reason::kNotPresent:
      return "not_present";
    case Reason::kPermissionDenied:
      return "permission_denied";
  }
  return "";
}

}  // namespace sre
