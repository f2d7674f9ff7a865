#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/status.h"

namespace sre {

/// The host a /probe target names, lower-cased, without a trailing dot and without brackets:
///   "http://user@Web.Example.com:8080/x?y"  -> "web.example.com"
///   "db.internal:5432", "db.internal"        -> "db.internal"
///   "[::1]:443", "http://[::1]/", "::1"      -> "::1"
/// nullopt when the target has no host, or when the host is neither an IP literal nor a plain DNS
/// name (letters, digits, '-', '_', '.'): such a target is never allowed. Targets with control
/// characters, spaces or backslashes are refused whole, since URL parsers disagree about them.
std::optional<std::string> TargetHost(std::string_view target);

/// Which targets /probe may probe: exact names ("web.internal", case-insensitive), wildcards
/// ("*.example.com": one or more labels in front of example.com, not example.com itself), IP
/// literals ("10.1.2.3", "::1") and CIDR blocks ("10.0.0.0/8", "fd00::/8"), and "*" for every
/// target. An empty list allows nothing.
///
/// A name is matched by the name patterns only: it is not resolved here, so "*.example.com" allows
/// whatever those names resolve to, and a CIDR never allows a name. An IPv4-mapped IPv6 literal
/// ("::ffff:10.0.0.1") is matched as the IPv4 address it maps.
///
/// Immutable after construction; thread-safe.
class TargetAllowlist {
 public:
  TargetAllowlist() = default;

  /// Parses the patterns; the error names the first bad one ("invalid allow pattern \"x\": ...").
  static Result<TargetAllowlist> Create(const std::vector<std::string>& patterns);
  /// Why `pattern` is invalid, or nullopt when it is valid.
  static std::optional<std::string> CheckPattern(std::string_view pattern);

  /// Whether the host of `target` (see TargetHost) matches a pattern.
  bool Allows(std::string_view target) const;
  /// Whether `host` (as TargetHost returns it) matches a pattern.
  bool AllowsHost(std::string_view host) const;

  bool empty() const { return names_.empty() && suffixes_.empty() && networks_.empty() && !any_; }

 private:
  struct Network {
    bool v6 = false;
    std::array<uint8_t, 16> bytes{};  // network byte order; IPv4 uses the first 4
    int prefix = 0;
  };

  /// Adds one pattern; the error says why it is invalid.
  std::optional<std::string> Add(std::string_view pattern);

  bool any_ = false;
  std::vector<std::string> names_;     // exact names, lower case
  std::vector<std::string> suffixes_;  // ".example.com" for "*.example.com"
  std::vector<Network> networks_;      // IP literals are /32 or /128
};

}  // namespace sre
