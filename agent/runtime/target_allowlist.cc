#include "agent/runtime/target_allowlist.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "agent/net/ip_address.h"

namespace sre {
namespace {

constexpr size_t kMaxNameLength = 253;
constexpr size_t kMaxLabelLength = 63;

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

/// A DNS name as the checks resolve it: labels of letters, digits, '-' and '_', separated by
/// single dots. Lower case expected.
bool IsPlainName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > kMaxLabelLength) return false;
  }
  return label > 0;
}

std::string_view WithoutTrailingDot(std::string_view name) {
  if (name.size() > 1 && name.back() == '.') name.remove_suffix(1);
  return name;
}

bool IsPort(std::string_view text) {
  if (text.size() > 5) return false;
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// The address bytes in network order, and whether it is IPv6. An IPv4-mapped IPv6 address
/// (::ffff:a.b.c.d) comes back as the IPv4 address.
struct RawAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};
};

RawAddress Raw(const net::IpAddress& ip) {
  sockaddr_storage storage{};
  ip.ToSockaddr(0, &storage);
  RawAddress raw;
  if (ip.family() == net::IpFamily::kIp4) {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(&storage);
    std::memcpy(raw.bytes.data(), &in4->sin_addr, 4);
    return raw;
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
  std::memcpy(raw.bytes.data(), &in6->sin6_addr, 16);
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(raw.bytes.data(), kMappedPrefix, sizeof(kMappedPrefix)) == 0) {
    std::array<uint8_t, 16> v4{};
    std::memcpy(v4.data(), raw.bytes.data() + 12, 4);
    raw.bytes = v4;
    return raw;
  }
  raw.v6 = true;
  return raw;
}

bool PrefixMatches(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int prefix) {
  const int whole = prefix / 8;
  if (std::memcmp(a.data(), b.data(), static_cast<size_t>(whole)) != 0) return false;
  const int rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[static_cast<size_t>(whole)] & mask) == (b[static_cast<size_t>(whole)] & mask);
}

}  // namespace

std::optional<std::string> TargetHost(std::string_view target) {
  if (target.empty()) return std::nullopt;
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '\\') return std::nullopt;
  }
  std::string_view host_port = target;
  const size_t scheme_end = target.find("://");
  const bool is_url = scheme_end != std::string_view::npos;
  if (is_url) {
    std::string_view authority = target.substr(scheme_end + 3);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    // Userinfo ends at the last '@' of the authority.
    if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
      authority.remove_prefix(at + 1);
    }
    host_port = authority;
  } else if (target.find_first_of("/?#@") != std::string_view::npos) {
    return std::nullopt;
  }

  std::string_view host;
  if (!host_port.empty() && host_port.front() == '[') {
    const size_t close = host_port.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = host_port.substr(1, close - 1);
    std::string_view after = host_port.substr(close + 1);
    if (!after.empty() && (after.front() != ':' || !IsPort(after.substr(1)))) return std::nullopt;
    auto ip = net::IpAddress::Parse(host);
    if (!ip || ip->family() != net::IpFamily::kIp6) return std::nullopt;
    return ip->ToString();
  }
  const size_t colons = static_cast<size_t>(std::count(host_port.begin(), host_port.end(), ':'));
  if (colons == 0) {
    host = host_port;
  } else if (colons == 1) {
    const size_t colon = host_port.find(':');
    if (!IsPort(host_port.substr(colon + 1))) return std::nullopt;
    host = host_port.substr(0, colon);
  } else {
    // A bare IPv6 literal ("::1"); in a URL or with a port it needs brackets.
    if (is_url) return std::nullopt;
    auto ip = net::IpAddress::Parse(host_port);
    if (!ip) return std::nullopt;
    return ip->ToString();
  }
  if (host.empty()) return std::nullopt;
  if (auto ip = net::IpAddress::Parse(host)) return ip->ToString();
  std::string name = Lower(WithoutTrailingDot(host));
  if (!IsPlainName(name)) return std::nullopt;
  return name;
}

std::optional<std::string> TargetAllowlist::CheckPattern(std::string_view pattern) {
  TargetAllowlist scratch;
  return scratch.Add(pattern);
}

Result<TargetAllowlist> TargetAllowlist::Create(const std::vector<std::string>& patterns) {
  TargetAllowlist allowlist;
  for (const std::string& pattern : patterns) {
    if (auto error = allowlist.Add(pattern)) {
      return Status::Error(fmt::format("invalid allow pattern \"{}\": {}", pattern, *error));
    }
  }
  return allowlist;
}

std::optional<std::string> TargetAllowlist::Add(std::string_view pattern) {
  if (pattern.empty()) return "empty pattern";
  if (pattern == "*") {
    any_ = true;
    return std::nullopt;
  }
  if (size_t slash = pattern.find('/'); slash != std::string_view::npos) {
    auto ip = net::IpAddress::Parse(pattern.substr(0, slash));
    if (!ip) return "expected a CIDR block like 10.0.0.0/8 or fd00::/8";
    const RawAddress raw = Raw(*ip);
    const int max_prefix = ip->family() == net::IpFamily::kIp4 ? 32 : 128;
    const std::string_view prefix_text = pattern.substr(slash + 1);
    int prefix = -1;
    auto [end, error] =
        std::from_chars(prefix_text.data(), prefix_text.data() + prefix_text.size(), prefix);
    if (prefix_text.empty() || error != std::errc() ||
        end != prefix_text.data() + prefix_text.size() || prefix < 0 || prefix > max_prefix) {
      return fmt::format("prefix length must be a number from 0 to {}", max_prefix);
    }
    if (ip->family() == net::IpFamily::kIp6 && !raw.v6) {
      return "use the IPv4 form for IPv4-mapped addresses (they are matched as IPv4)";
    }
    Network network{raw.v6, {}, prefix};
    for (int bit = 0; bit < prefix; ++bit) {
      const auto byte = static_cast<size_t>(bit / 8);
      const auto mask = static_cast<uint8_t>(0x80 >> (bit % 8));
      network.bytes[byte] |= static_cast<uint8_t>(raw.bytes[byte] & mask);
    }
    if (network.bytes != raw.bytes) {
      // Show the block the operator probably meant.
      sockaddr_storage storage{};
      if (raw.v6) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
        in6->sin6_family = AF_INET6;
        std::memcpy(&in6->sin6_addr, network.bytes.data(), 16);
      } else {
        auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
        in4->sin_family = AF_INET;
        std::memcpy(&in4->sin_addr, network.bytes.data(), 4);
      }
      const net::IpAddress masked =
          net::IpAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&storage));
      return fmt::format("address bits are set past the prefix; did you mean {}/{}?",
                         masked.ToString(), prefix);
    }
    networks_.push_back(network);
    return std::nullopt;
  }
  if (auto ip = net::IpAddress::Parse(pattern)) {
    const RawAddress raw = Raw(*ip);
    networks_.push_back({raw.v6, raw.bytes, raw.v6 ? 128 : 32});
    return std::nullopt;
  }
  if (pattern.find(':') != std::string_view::npos) {
    return "expected a host name, an IP address or a CIDR block, without a port";
  }
  std::string_view name = pattern;
  const bool wildcard = name.starts_with("*.");
  if (wildcard) name.remove_prefix(2);
  if (name.find('*') != std::string_view::npos) {
    return "a wildcard must be the whole first label, as in *.example.com";
  }
  const std::string lower = Lower(WithoutTrailingDot(name));
  if (!IsPlainName(lower)) {
    return "expected a host name (letters, digits, '-', '_' and dots), an IP address or a CIDR "
           "block";
  }
  if (wildcard) {
    suffixes_.push_back("." + lower);
  } else {
    names_.push_back(lower);
  }
  return std::nullopt;
}

bool TargetAllowlist::Allows(std::string_view target) const {
  const std::optional<std::string> host = TargetHost(target);
  return host && AllowsHost(*host);
}

bool TargetAllowlist::AllowsHost(std::string_view host) const {
  if (host.empty()) return false;
  if (any_) return true;
  if (auto ip = net::IpAddress::Parse(host)) {
    const RawAddress raw = Raw(*ip);
    return std::any_of(networks_.begin(), networks_.end(), [&](const Network& network) {
      return network.v6 == raw.v6 && PrefixMatches(network.bytes, raw.bytes, network.prefix);
    });
  }
  // Not resolved on purpose: see the class comment.
  const std::string name = Lower(WithoutTrailingDot(host));
  if (!IsPlainName(name)) return false;
  if (std::find(names_.begin(), names_.end(), name) != names_.end()) return true;
  return std::any_of(suffixes_.begin(), suffixes_.end(), [&](const std::string& suffix) {
    return name.size() > suffix.size() && name.ends_with(suffix);
  });
}

}  // namespace sre
