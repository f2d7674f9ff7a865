// Fuzzes the /probe allowlist: host extraction from client-supplied targets (URLs, host:port,
// [v6]:port) and pattern parsing. Nothing may crash, and a few properties must hold whatever the
// bytes: an extracted host extracts to itself, and a wildcard allows only names under its domain.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/runtime/target_allowlist.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  // The whole input as a target.
  const std::optional<std::string> host = sre::TargetHost(text);
  if (host) {
    if (host->empty() || sre::TargetHost(*host) != host) __builtin_trap();
    static const sre::TargetAllowlist wildcard =
        sre::TargetAllowlist::Create({"*.example.com"}).value();
    if (wildcard.Allows(text) && !(host->size() > 12 && host->ends_with(".example.com"))) {
      __builtin_trap();
    }
    static const sre::TargetAllowlist any = sre::TargetAllowlist::Create({"*"}).value();
    if (!any.AllowsHost(*host)) __builtin_trap();
  }

  // Lines before the last as patterns, the last as a target.
  std::vector<std::string> patterns;
  std::string_view rest = text;
  for (size_t end = rest.find('\n'); end != std::string_view::npos; end = rest.find('\n')) {
    patterns.emplace_back(rest.substr(0, end));
    rest.remove_prefix(end + 1);
  }
  for (const std::string& pattern : patterns) (void)sre::TargetAllowlist::CheckPattern(pattern);
  auto allowlist = sre::TargetAllowlist::Create(patterns);
  if (allowlist.ok()) {
    (void)allowlist->Allows(rest);
    (void)allowlist->AllowsHost(rest);
  }
  return 0;
}
