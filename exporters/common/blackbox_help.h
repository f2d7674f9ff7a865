#pragma once

/// Help texts of the probe_* families our probes share with blackbox_exporter, as 0.23 writes
/// them (read off its /probe answers), kept in one place: dashboards read the same, and a family
/// that several exporters report (tcp and http_probe both report probe_success) has one HELP
/// line, which promtool requires.
namespace sre::exporters::blackbox_help {

inline constexpr char kSuccess[] = "Displays whether or not the probe was a success";
inline constexpr char kDuration[] = "Returns how long the probe took to complete in seconds";
inline constexpr char kDnsLookup[] = "Returns the time taken for probe dns lookup in seconds";
inline constexpr char kIpProtocol[] = "Specifies whether probe ip protocol is IP4 or IP6";
inline constexpr char kIpAddrHash[] =
    "Specifies the hash of IP address. It's useful to detect if the IP address changes.";
inline constexpr char kFailedDueToRegex[] = "Indicates if probe failed due to regex";
inline constexpr char kSslEarliestCertExpiry[] = "Returns last SSL chain expiry in unixtime";
inline constexpr char kTlsVersionInfo[] = "Returns the TLS version used or NaN when unknown";
/// Ours, not blackbox_exporter's: why the probe failed.
inline constexpr char kFailureInfo[] = "Why the probe failed: 1 for the current reason";

}  // namespace sre::exporters::blackbox_help
