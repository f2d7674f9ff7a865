#include "agent/alerting/template.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace sre::alerting {
namespace {

constexpr std::string_view kSupported =
    "supported: {{ $labels.NAME }}, {{ $value }} and literal text";

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsLabelStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsLabelChar(char c) { return IsLabelStart(c) || (c >= '0' && c <= '9'); }

void TrimRight(std::string& text) {
  while (!text.empty() && IsSpace(text.back())) text.pop_back();
}

/// The action between `{{` and `}}` (markers and spaces removed): a label name, "$value", or
/// an error message.
struct Action {
  bool is_value = false;
  std::string label;
  std::string error;
};

Action ReadAction(std::string_view body) {
  Action action;
  if (body == "$value") {
    action.is_value = true;
    return action;
  }
  constexpr std::string_view kLabels = "$labels.";
  if (body.starts_with(kLabels)) {
    const std::string_view name = body.substr(kLabels.size());
    if (!name.empty() && IsLabelStart(name[0]) &&
        std::all_of(name.begin(), name.end(), IsLabelChar)) {
      if (name.starts_with("__")) {
        action.error = "$labels." + std::string(name) +
                       " is not available: alerts carry no labels starting with __";
      } else {
        action.label = std::string(name);
      }
      return action;
    }
    action.error = "expected a label name after $labels., got \"" + std::string(name) + "\"";
    return action;
  }
  std::string shown(body.substr(0, 40));
  if (body.size() > 40) shown += "...";
  action.error = "unsupported template action {{ " + shown + " }}: " + std::string(kSupported);
  return action;
}

}  // namespace

bool Template::is_literal() const {
  return std::all_of(pieces_.begin(), pieces_.end(),
                     [](const Piece& piece) { return piece.kind == Kind::kText; });
}

Parsed<Template> ParseTemplate(std::string_view text) {
  Template tmpl;
  std::string literal;
  bool trim_next = false;  // the previous action ended with " -}}"
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find("{{", pos);
    std::string_view chunk = text.substr(pos, open == std::string_view::npos ? open : open - pos);
    if (trim_next) {
      while (!chunk.empty() && IsSpace(chunk.front())) chunk.remove_prefix(1);
      trim_next = false;
    }
    literal += chunk;
    if (open == std::string_view::npos) break;
    const size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return SyntaxError{
          open, "unclosed action: \"{{\" without \"}}\" (" + std::string(kSupported) + ")"};
    }
    std::string_view body = text.substr(open + 2, close - open - 2);
    // Go's trim markers need a space between the dash and the action: "{{- x -}}".
    if (body.size() >= 2 && body[0] == '-' && IsSpace(body[1])) {
      TrimRight(literal);
      body.remove_prefix(1);
    }
    if (body.size() >= 2 && body.back() == '-' && IsSpace(body[body.size() - 2])) {
      trim_next = true;
      body.remove_suffix(1);
    }
    while (!body.empty() && IsSpace(body.front())) body.remove_prefix(1);
    while (!body.empty() && IsSpace(body.back())) body.remove_suffix(1);
    Action action = ReadAction(body);
    if (!action.error.empty()) return SyntaxError{open, std::move(action.error)};
    if (!literal.empty()) {
      tmpl.pieces_.push_back({Template::Kind::kText, std::move(literal)});
      literal.clear();
    }
    if (action.is_value) {
      tmpl.pieces_.push_back({Template::Kind::kValue, {}});
    } else {
      tmpl.pieces_.push_back({Template::Kind::kLabel, action.label});
      tmpl.label_names_.push_back(std::move(action.label));
    }
    pos = close + 2;
  }
  if (!literal.empty()) tmpl.pieces_.push_back({Template::Kind::kText, std::move(literal)});
  std::sort(tmpl.label_names_.begin(), tmpl.label_names_.end());
  tmpl.label_names_.erase(std::unique(tmpl.label_names_.begin(), tmpl.label_names_.end()),
                          tmpl.label_names_.end());
  return tmpl;
}

std::string Expand(const Template& tmpl, const Labels& labels, double value) {
  std::string out;
  for (const Template::Piece& piece : tmpl.pieces_) {
    switch (piece.kind) {
      case Template::Kind::kText:
        out += piece.text;
        break;
      case Template::Kind::kValue:
        out += FormatGoFloat(value);
        break;
      case Template::Kind::kLabel: {
        const auto it = std::find_if(labels.begin(), labels.end(),
                                     [&](const auto& label) { return label.name == piece.text; });
        out += it == labels.end() ? "<no value>" : it->value;
        break;
      }
    }
  }
  return out;
}

std::string FormatGoFloat(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // The shortest round-trip digits, as Go's strconv computes them, in the form d[.ddd]e±XX.
  char buffer[64];
  const auto result =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  const std::string_view scientific(buffer, static_cast<size_t>(result.ptr - buffer));
  const size_t e = scientific.find('e');
  const int exponent = std::atoi(std::string(scientific.substr(e + 1)).c_str());
  // %e form when the exponent is < -4 or >= 6 (Go's 'g' with the shortest precision): to_chars
  // already writes it as Go does, with at least two exponent digits.
  if (exponent < -4 || exponent >= 6) return std::string(scientific);
  const bool negative = scientific[0] == '-';
  std::string digits;
  for (char c : scientific.substr(negative ? 1 : 0, e - (negative ? 1 : 0))) {
    if (c != '.') digits += c;
  }
  const int point = exponent + 1;  // digits before the decimal point
  std::string out = negative ? "-" : "";
  if (point <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-point), '0');
    out += digits;
  } else if (static_cast<size_t>(point) >= digits.size()) {
    out += digits;
    out.append(static_cast<size_t>(point) - digits.size(), '0');
  } else {
    out += digits.substr(0, static_cast<size_t>(point));
    out += '.';
    out += digits.substr(static_cast<size_t>(point));
  }
  return out;
}

}  // namespace sre::alerting
