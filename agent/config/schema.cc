#include "agent/config/schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "agent/config/messages.h"

namespace sre::config {
namespace {

/// Appends `text` with every line indented by `indent` spaces.
void AppendIndented(std::string_view text, int indent, std::string& out) {
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    out.append(static_cast<size_t>(indent), ' ');
    out.append(line);
    out += '\n';
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

void RenderFields(const std::vector<FieldDoc>& fields, int indent, std::string& out) {
  for (const FieldDoc& field : fields) {
    std::string line = field.key + ": " + field.type;
    if (field.required) {
      line += ", required";
    } else if (!field.default_value.empty()) {
      line += ", default " + field.default_value;
    }
    AppendIndented(line, indent, out);
    AppendIndented(field.doc, indent + 4, out);
    RenderFields(field.children, indent + 2, out);
  }
}

}  // namespace

std::string RenderDescription(const std::string& title, const std::vector<FieldDoc>& fields) {
  std::string out;
  int indent = 0;
  if (!title.empty()) {
    out = title + ":\n";
    indent = 2;
  }
  RenderFields(fields, indent, out);
  return out;
}

namespace internal {

Status CheckMapping(const YAML::Node& node, const std::vector<std::string>& valid,
                    const ParseContext& ctx) {
  const std::string valid_list = fmt::format("{}", fmt::join(valid, ", "));
  if (!node.IsMap()) {
    return ctx.ErrorAt(node,
                       "expected a mapping with keys: " + valid_list + "; got " + Found(node));
  }
  // yaml-cpp keeps every entry of a mapping, duplicates included, in document order.
  std::unordered_map<std::string, int> first_line;  // key -> 1-based line of first occurrence
  for (const auto& item : node) {
    const YAML::Node& key_node = item.first;
    if (!key_node.IsScalar()) {
      return ctx.ErrorAt(key_node, "expected a string key, got " + Found(key_node));
    }
    const std::string& key = key_node.Scalar();
    auto [it, inserted] = first_line.emplace(key, key_node.Mark().line + 1);
    if (!inserted) {
      return ctx.ErrorAt(
          key_node, fmt::format("duplicate key {} (first at line {})", Quote(key), it->second));
    }
    if (std::find(valid.begin(), valid.end(), key) == valid.end()) {
      return ctx.ErrorAt(key_node, fmt::format("unknown key {}; valid keys: {}", Quote(key),
                                               valid_list.empty() ? "none" : valid_list));
    }
  }
  return Status::Ok();
}

}  // namespace internal
}  // namespace sre::config
