#pragma once

#include <cassert>
#include <cstddef>
#include <string>
#include <utility>
#include <variant>

namespace sre::alerting {

/// An error in a rule expression or an annotation template: where, and what was expected there.
/// The offset lets the config layer point at the exact `line:col` inside the YAML scalar.
struct SyntaxError {
  size_t offset = 0;    ///< 0-based byte offset into the parsed text
  std::string message;  ///< "expected ..., got ..."
};

/// A parsed value or the SyntaxError that stopped parsing: the project's `Result<T>` with a
/// position. Value type.
template <typename T>
class Parsed {
 public:
  Parsed(T value) : state_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Parsed(SyntaxError error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(state_); }
  const SyntaxError& error() const {
    assert(!ok());
    return std::get<SyntaxError>(state_);
  }

  const T& value() const& { return std::get<T>(state_); }
  T& value() & { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  const T* operator->() const { return &value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, SyntaxError> state_;
};

}  // namespace sre::alerting
