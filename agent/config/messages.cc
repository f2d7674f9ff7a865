#include "agent/config/messages.h"

#include <fmt/format.h>

namespace sre::config {
namespace {

/// Longer keys and values are cut in error messages.
constexpr size_t kMaxShownChars = 64;

}  // namespace

std::string Quote(std::string_view text) {
  std::string out = "\"";
  size_t shown = 0;
  for (char c : text) {
    if (shown++ == kMaxShownChars) {
      out += "...";
      break;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Found(const YAML::Node& node) {
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a map";
  if (node.IsNull()) return "null";
  if (node.IsScalar()) return Quote(node.Scalar());
  return "nothing";
}

}  // namespace sre::config
