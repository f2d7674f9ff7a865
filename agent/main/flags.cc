#include "agent/main/flags.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace sre::cli {
namespace {

const FlagSpec* FindSpec(const std::vector<FlagSpec>& specs, const std::string& name) {
  for (const auto& spec : specs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

std::string FlagList(const std::vector<FlagSpec>& specs) {
  std::string list;
  for (const auto& spec : specs) list += (list.empty() ? "--" : ", --") + spec.name;
  return list;
}

}  // namespace

std::string ParsedFlags::Get(const std::string& name, const std::string& fallback) const {
  auto it = values.find(name);
  return it == values.end() || it->second.empty() ? fallback : it->second.back();
}

const std::vector<std::string>& ParsedFlags::GetAll(const std::string& name) const {
  static const std::vector<std::string> kNone;
  auto it = values.find(name);
  return it == values.end() ? kNone : it->second;
}

Result<ParsedFlags> ParseFlags(const std::vector<FlagSpec>& specs,
                               const std::vector<std::string>& args) {
  ParsedFlags parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      parsed.positional.insert(parsed.positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (!arg.starts_with("-") || arg == "-") {
      parsed.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(arg.starts_with("--") ? 2 : 1);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const FlagSpec* spec = FindSpec(specs, name);
    bool negated = false;
    if (spec == nullptr && name.starts_with("no-")) {
      spec = FindSpec(specs, name.substr(3));
      negated = spec != nullptr && spec->value_name.empty();
      if (!negated) spec = nullptr;
    }
    if (spec == nullptr) {
      return Status::Error(
          fmt::format("unknown flag {}; expected one of {}", arg, FlagList(specs)));
    }
    if (spec->value_name.empty()) {
      if (value && *value != "true" && *value != "false") {
        return Status::Error(
            fmt::format("--{} is a switch: expected no value, or =true/=false", spec->name));
      }
      parsed.values[spec->name] =
          std::vector<std::string>{negated ? "false" : value.value_or("true")};
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return Status::Error(
            fmt::format("--{} needs a value: --{}={}", spec->name, spec->name, spec->value_name));
      }
      value = args[++i];
    }
    auto& values = parsed.values[spec->name];
    if (!values.empty() && !spec->repeatable) {
      return Status::Error(fmt::format("--{} given twice; it takes one value", spec->name));
    }
    values.push_back(*value);
  }
  return parsed;
}

std::string RenderFlagHelp(const std::vector<FlagSpec>& specs) {
  std::string out;
  for (const auto& spec : specs) {
    std::string left = "  --" + spec.name + (spec.value_name.empty() ? "" : "=" + spec.value_name);
    out += fmt::format("{:<36} {}", left, spec.help);
    if (!spec.default_value.empty()) out += fmt::format(" (default: {})", spec.default_value);
    if (spec.repeatable) out += " (repeatable)";
    out += "\n";
  }
  return out;
}

}  // namespace sre::cli
