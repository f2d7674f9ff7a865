#include "agent/config/value_codec.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>
#include <system_error>

#include "agent/config/duration.h"
#include "agent/config/messages.h"

namespace sre::config {
namespace {

/// The env-expanded text of a scalar; a non-scalar is "expected <expected>, got a list".
Result<std::string> ScalarText(const YAML::Node& node, const ParseContext& ctx,
                               std::string_view expected) {
  if (!node.IsScalar()) {
    return ctx.ErrorAt(node, fmt::format("expected {}, got {}", expected, Found(node)));
  }
  return ctx.ExpandedScalar(node);
}

template <typename Number>
bool ParseNumber(std::string_view text, Number& out) {
  if (text.size() > 1 && text.front() == '+' && text[1] != '-') text.remove_prefix(1);
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

template <typename Item>
Status ParseList(const YAML::Node& node, const ParseContext& ctx, std::vector<Item>& out) {
  std::vector<Item> items;
  if (node.IsNull()) {  // `key:` with every item commented out
    out = std::move(items);
    return Status::Ok();
  }
  if (!node.IsSequence()) {
    std::string found = Found(node);
    return ctx.ErrorAt(node, fmt::format("expected a {}, got {}",
                                         ValueCodec<std::vector<Item>>::TypeName(), found));
  }
  for (const YAML::Node& element : node) {
    Item item{};
    if (Status s = ValueCodec<Item>::Parse(element, ctx, item); !s.ok()) return s;
    items.push_back(std::move(item));
  }
  out = std::move(items);
  return Status::Ok();
}

}  // namespace

Status ValueCodec<std::string>::Parse(const YAML::Node& node, const ParseContext& ctx,
                                      std::string& out) {
  Result<std::string> text = ctx.ExpandedScalar(node);
  if (!text.ok()) return text.status();
  out = std::move(text).value();
  return Status::Ok();
}

Status ValueCodec<bool>::Parse(const YAML::Node& node, const ParseContext& ctx, bool& out) {
  Result<std::string> text = ScalarText(node, ctx, "true or false");
  if (!text.ok()) return text.status();
  // The YAML 1.2 core schema: yes/no/on/off are strings there, and an error here.
  if (*text == "true" || *text == "True" || *text == "TRUE") {
    out = true;
  } else if (*text == "false" || *text == "False" || *text == "FALSE") {
    out = false;
  } else {
    return ctx.ErrorAt(node, "expected true or false, got " + Quote(*text));
  }
  return Status::Ok();
}

Status ValueCodec<int64_t>::Parse(const YAML::Node& node, const ParseContext& ctx, int64_t& out) {
  Result<std::string> text = ScalarText(node, ctx, "an integer");
  if (!text.ok()) return text.status();
  if (ParseNumber(*text, out)) return Status::Ok();
  // Digits only, yet not parsed: out of range.
  std::string_view digits = *text;
  if (!digits.empty() && (digits.front() == '-' || digits.front() == '+')) digits.remove_prefix(1);
  if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos) {
    return ctx.ErrorAt(node, fmt::format("expected an integer between {} and {}, got {}",
                                         std::numeric_limits<int64_t>::min(),
                                         std::numeric_limits<int64_t>::max(), Quote(*text)));
  }
  return ctx.ErrorAt(node, "expected an integer, got " + Quote(*text));
}

std::string ValueCodec<double>::Format(double v) { return fmt::format("{}", v); }

Status ValueCodec<double>::Parse(const YAML::Node& node, const ParseContext& ctx, double& out) {
  Result<std::string> text = ScalarText(node, ctx, "a number");
  if (!text.ok()) return text.status();
  double value = 0;
  // from_chars also reads "inf" and "nan", which no setting wants.
  if (!ParseNumber(*text, value) || !std::isfinite(value)) {
    return ctx.ErrorAt(node, "expected a number, got " + Quote(*text));
  }
  out = value;
  return Status::Ok();
}

std::string ValueCodec<Duration>::Format(Duration v) { return FormatDuration(v); }

Status ValueCodec<Duration>::Parse(const YAML::Node& node, const ParseContext& ctx, Duration& out) {
  Result<std::string> text = ScalarText(node, ctx, "a duration like 250ms or 15s");
  if (!text.ok()) return text.status();
  Result<Duration> value = ParseDuration(*text);
  if (!value.ok()) {
    // A specific reason ("must not be negative", "unknown unit") is worth more than the
    // generic one, which the usual wording already says.
    const Status error = value.status();
    if (error.message().ends_with("expected a number with a unit, like 250ms, 15s or 1m30s")) {
      return ctx.ErrorAt(node, "expected a duration like 250ms or 15s, got " + Quote(*text));
    }
    return ctx.ErrorAt(node, error.message());
  }
  out = *value;
  return Status::Ok();
}

std::string ValueCodec<std::vector<std::string>>::Format(const std::vector<std::string>& v) {
  if (v.empty()) return "";
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", \"" : "\"") + v[i] + "\"";
  return out + "]";
}

Status ValueCodec<std::vector<std::string>>::Parse(const YAML::Node& node, const ParseContext& ctx,
                                                   std::vector<std::string>& out) {
  return ParseList(node, ctx, out);
}

std::string ValueCodec<std::vector<int64_t>>::Format(const std::vector<int64_t>& v) {
  if (v.empty()) return "";
  return fmt::format("[{}]", fmt::join(v, ", "));
}

Status ValueCodec<std::vector<int64_t>>::Parse(const YAML::Node& node, const ParseContext& ctx,
                                               std::vector<int64_t>& out) {
  return ParseList(node, ctx, out);
}

std::string ValueCodec<std::map<std::string, std::string>>::Format(
    const std::map<std::string, std::string>& v) {
  if (v.empty()) return "";
  std::string out = "{";
  for (const auto& [key, value] : v) {
    if (out.size() > 1) out += ", ";
    out += key + ": \"" + value + "\"";
  }
  return out + "}";
}

Status ValueCodec<std::map<std::string, std::string>>::Parse(
    const YAML::Node& node, const ParseContext& ctx, std::map<std::string, std::string>& out) {
  std::map<std::string, std::string> result;
  if (node.IsNull()) {  // `key:` with every entry commented out
    out = std::move(result);
    return Status::Ok();
  }
  if (!node.IsMap()) {
    std::string found = Found(node);
    return ctx.ErrorAt(node, "expected a " + TypeName() + ", got " + found);
  }
  std::map<std::string, int> first_line;  // key -> 1-based line of its first occurrence
  for (const auto& item : node) {
    if (!item.first.IsScalar()) {
      return ctx.ErrorAt(item.first, "expected a string key, got " + Found(item.first));
    }
    const std::string& key = item.first.Scalar();
    auto [it, inserted] = first_line.emplace(key, item.first.Mark().line + 1);
    if (!inserted) {
      return ctx.ErrorAt(
          item.first, fmt::format("duplicate key {} (first at line {})", Quote(key), it->second));
    }
    if (item.second.IsNull()) {
      // yaml-cpp places an empty value at the next token, often on the next line: point at
      // the key instead.
      return ctx.ErrorAt(item.first, "expected a string, got null");
    }
    std::string value;
    if (Status s = ValueCodec<std::string>::Parse(item.second, ctx, value); !s.ok()) return s;
    result.emplace(key, std::move(value));
  }
  out = std::move(result);
  return Status::Ok();
}

Status ValueCodec<FilePath>::Parse(const YAML::Node& node, const ParseContext& ctx, FilePath& out) {
  auto text = ScalarText(node, ctx, "a file path");
  if (!text.ok()) return text.status();
  out.path = text->empty() ? "" : ctx.ResolvePath(*text);
  if (out.path.empty()) return Status::Ok();
  std::FILE* file = std::fopen(out.path.c_str(), "r");
  if (file == nullptr) {
    return ctx.ErrorAt(node, "cannot read " + Quote(out.path) + ": " + std::strerror(errno));
  }
  std::fclose(file);
  return Status::Ok();
}

}  // namespace sre::config
