#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "agent/alerting/syntax_error.h"

namespace sre::alerting {

/// Reads the PromQL string literal that starts at `text[pos]` into `out` (unescaped) and moves
/// `pos` past its closing quote. As in PromQL: "..." and '...' take Go's escapes (\a \b \f \n \r
/// \t \v \\, the quote itself, \NNN octal, \xNN a byte, \uNNNN and \UNNNNNNNN a code point in
/// UTF-8) and may not span lines; `...` is raw. An error points at the opening quote or at the
/// bad escape. Pure; never throws.
std::optional<SyntaxError> ReadStringLiteral(std::string_view text, size_t& pos, std::string& out);

/// `text` in double quotes for an error message: quotes, backslashes and control bytes escaped.
std::string QuoteForMessage(std::string_view text);

}  // namespace sre::alerting
