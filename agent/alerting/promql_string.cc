#include "agent/alerting/promql_string.h"

#include <cstdint>
#include <utility>

namespace sre::alerting {
namespace {

void AppendUtf8(std::string& out, uint32_t rune) {
  if (rune < 0x80) {
    out += static_cast<char>(rune);
  } else if (rune < 0x800) {
    out += static_cast<char>(0xC0 | (rune >> 6));
    out += static_cast<char>(0x80 | (rune & 0x3F));
  } else if (rune < 0x10000) {
    out += static_cast<char>(0xE0 | (rune >> 12));
    out += static_cast<char>(0x80 | ((rune >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (rune & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (rune >> 18));
    out += static_cast<char>(0x80 | ((rune >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((rune >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (rune & 0x3F));
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// A cursor over one string literal; `pos` is the caller's, advanced as bytes are read.
class Lexer {
 public:
  Lexer(std::string_view text, size_t& pos) : text_(text), pos_(pos) {}

  std::optional<SyntaxError> Read(std::string& out) {
    const size_t open_at = pos_;
    const char quote = Peek();
    if (quote != '"' && quote != '\'' && quote != '`') {
      return Fail(pos_, "expected a quoted string");
    }
    ++pos_;
    while (true) {
      if (AtEnd() || (quote != '`' && Peek() == '\n')) {
        return Fail(open_at, "unterminated string: no closing " + std::string(1, quote));
      }
      const char c = text_[pos_];
      if (c == quote) {
        ++pos_;
        return std::nullopt;
      }
      if (c != '\\' || quote == '`') {
        out += c;
        ++pos_;
        continue;
      }
      if (auto error = Escape(quote, out)) return error;
    }
  }

 private:
  std::optional<SyntaxError> Escape(char quote, std::string& out) {
    static constexpr std::string_view kLetters = "abfnrtv\\";
    static constexpr std::string_view kBytes = "\a\b\f\n\r\t\v\\";
    const size_t at = pos_;
    ++pos_;  // the backslash
    if (AtEnd()) return Fail(at, "unterminated string: nothing after \\");
    const char c = text_[pos_++];
    if (const size_t i = kLetters.find(c); i != std::string_view::npos) {
      out += kBytes[i];
      return std::nullopt;
    }
    if (c == quote) {
      out += c;
      return std::nullopt;
    }
    if (c == 'x') return HexEscape(at, 2, out);
    if (c == 'u') return HexEscape(at, 4, out);
    if (c == 'U') return HexEscape(at, 8, out);
    if (c >= '0' && c <= '7') {
      uint32_t value = static_cast<uint32_t>(c - '0');
      for (int i = 0; i < 2; ++i, ++pos_) {
        if (Peek() < '0' || Peek() > '7') {
          return Fail(at, "invalid octal escape: expected 3 octal digits after \\");
        }
        value = value * 8 + static_cast<uint32_t>(Peek() - '0');
      }
      if (value > 255) return Fail(at, "invalid octal escape: value above \\377");
      out += static_cast<char>(value);
      return std::nullopt;
    }
    const bool printable = c > ' ' && c < 0x7F;
    return Fail(at,
                "unknown escape sequence " +
                    (printable ? "\\" + std::string(1, c) : QuoteForMessage(text_.substr(at, 2))) +
                    " (supported: \\a \\b \\f \\n \\r \\t \\v \\\\ \\" + std::string(1, quote) +
                    " \\NNN \\xNN \\uNNNN \\UNNNNNNNN)");
  }

  std::optional<SyntaxError> HexEscape(size_t at, int digits, std::string& out) {
    uint32_t value = 0;
    for (int i = 0; i < digits; ++i, ++pos_) {
      const int digit = HexValue(Peek());
      if (digit < 0) {
        return Fail(at, "invalid escape: expected " + std::to_string(digits) +
                            " hexadecimal digits after \\" + std::string(1, text_[at + 1]));
      }
      value = value * 16 + static_cast<uint32_t>(digit);
    }
    if (digits == 2) {
      out += static_cast<char>(value);  // a byte, as in Go
    } else if (value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
      return Fail(at, "invalid escape: not a Unicode code point");
    } else {
      AppendUtf8(out, value);
    }
    return std::nullopt;
  }

  static std::optional<SyntaxError> Fail(size_t offset, std::string message) {
    return SyntaxError{offset, std::move(message)};
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  std::string_view text_;
  size_t& pos_;
};

}  // namespace

std::optional<SyntaxError> ReadStringLiteral(std::string_view text, size_t& pos, std::string& out) {
  return Lexer(text, pos).Read(out);
}

std::string QuoteForMessage(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      out += "\\x";
      out += kHex[(c >> 4) & 0xF];
      out += kHex[c & 0xF];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace sre::alerting
