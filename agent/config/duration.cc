#include "agent/config/duration.h"

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <limits>

namespace sre::config {
namespace {

struct Unit {
  std::string_view name;
  int64_t nanos;
};

/// Largest first: a duration's units must appear in this order, each at most once.
constexpr std::array<Unit, 7> kUnits = {{
    {"d", 86'400'000'000'000},
    {"h", 3'600'000'000'000},
    {"m", 60'000'000'000},
    {"s", 1'000'000'000},
    {"ms", 1'000'000},
    {"us", 1'000},
    {"ns", 1},
}};

constexpr int64_t kSecond = 1'000'000'000;
/// Fraction digits beyond this cannot change a result in nanoseconds by a whole unit, except by
/// carrying; they are ignored (like the rest of the sub-nanosecond part, which is truncated).
constexpr int kMaxFractionDigits = 18;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

Status Invalid(std::string_view text, std::string_view why) {
  return Status::Error(fmt::format("invalid duration \"{}\": {}", text, why));
}

Status Generic(std::string_view text) {
  return Invalid(text, "expected a number with a unit, like 250ms, 15s or 1m30s");
}

/// `value` as `whole[.fraction]` in units of `unit` nanoseconds, trailing zeros dropped.
std::string Decimal(uint64_t value, uint64_t unit) {
  std::string out = std::to_string(value / unit);
  uint64_t rest = value % unit;
  if (rest == 0) return out;
  int digits = 0;
  for (uint64_t u = unit; u > 1; u /= 10) ++digits;
  std::string fraction = fmt::format("{:0{}}", rest, digits);
  while (fraction.back() == '0') fraction.pop_back();
  return out + "." + fraction;
}

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  if (text == "0") return Duration(0);
  if (!text.empty() && text.front() == '-') return Invalid(text, "must not be negative");
  if (text.empty() || !(IsDigit(text.front()) || text.front() == '.')) return Generic(text);

  auto too_large = [text] {
    return Invalid(text, "too large; the maximum is " + FormatDuration(Duration::max()));
  };
  int64_t total = 0;
  size_t next_unit = 0;  // index into kUnits of the smallest unit still allowed
  size_t i = 0;
  while (i < text.size()) {
    // The number: digits, optionally '.' and more digits; at least one digit in all.
    uint64_t whole = 0;
    bool whole_overflow = false;
    size_t digits = 0;
    while (i < text.size() && IsDigit(text[i])) {
      if (whole > (std::numeric_limits<uint64_t>::max() - 9) / 10) whole_overflow = true;
      whole = whole * 10 + static_cast<uint64_t>(text[i] - '0');
      ++i;
      ++digits;
    }
    uint64_t fraction = 0;
    uint64_t scale = 1;
    if (i < text.size() && text[i] == '.') {
      ++i;
      int fraction_digits = 0;
      while (i < text.size() && IsDigit(text[i])) {
        if (fraction_digits < kMaxFractionDigits) {
          fraction = fraction * 10 + static_cast<uint64_t>(text[i] - '0');
          scale *= 10;
          ++fraction_digits;
        }
        ++i;
        ++digits;
      }
    }
    if (digits == 0) return Generic(text);

    // The unit: everything up to the next number.
    size_t unit_start = i;
    while (i < text.size() && !IsDigit(text[i]) && text[i] != '.') ++i;
    std::string_view unit_name = text.substr(unit_start, i - unit_start);
    if (unit_name.empty()) {
      return Invalid(text, "missing unit after the number; valid units: ns, us, ms, s, m, h, d");
    }
    size_t unit_index = 0;
    while (unit_index < kUnits.size() && kUnits[unit_index].name != unit_name) ++unit_index;
    if (unit_index == kUnits.size()) {
      return Invalid(
          text, fmt::format("unknown unit \"{}\"; valid units: ns, us, ms, s, m, h, d", unit_name));
    }
    if (unit_index < next_unit) {
      return Invalid(text, "units must go from largest to smallest, each once, like 1h30m");
    }
    next_unit = unit_index + 1;

    const auto unit = static_cast<uint64_t>(kUnits[unit_index].nanos);
    if (whole_overflow) return too_large();
    unsigned __int128 nanos = static_cast<unsigned __int128>(whole) * unit +
                              static_cast<unsigned __int128>(fraction) * unit / scale;
    nanos += static_cast<unsigned __int128>(total);
    if (nanos > static_cast<unsigned __int128>(std::numeric_limits<int64_t>::max())) {
      return too_large();
    }
    total = static_cast<int64_t>(nanos);
  }
  return Duration(total);
}

std::string FormatDuration(Duration d) {
  int64_t count = d.count();
  if (count == 0) return "0s";
  std::string out;
  uint64_t nanos = static_cast<uint64_t>(count);
  if (count < 0) {
    out = "-";
    nanos = ~nanos + 1;  // well-defined for INT64_MIN too
  }
  if (nanos < static_cast<uint64_t>(kSecond)) {
    // Below a second: the largest unit it reaches, with a fraction: 250ms, 1.5ms, 40ns.
    for (const Unit& unit : {kUnits[4], kUnits[5], kUnits[6]}) {
      if (nanos >= static_cast<uint64_t>(unit.nanos)) {
        return out + Decimal(nanos, static_cast<uint64_t>(unit.nanos)) + std::string(unit.name);
      }
    }
  }
  // A second or more: whole days, hours and minutes, then seconds with a fraction: 1m30.5s.
  for (const Unit& unit : {kUnits[0], kUnits[1], kUnits[2]}) {
    const auto size = static_cast<uint64_t>(unit.nanos);
    if (nanos >= size) {
      out += std::to_string(nanos / size);
      out += unit.name;
      nanos %= size;
    }
  }
  if (nanos != 0) out += Decimal(nanos, static_cast<uint64_t>(kSecond)) + "s";
  return out;
}

}  // namespace sre::config
