#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace sre {

/// Success, or an error with a human-readable message. Used for configuration and set-up errors;
/// check outcomes use `Reason` instead. Value type, not thread-safe for concurrent mutation.
class Status {
 public:
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message), false); }

  bool ok() const { return ok_; }
  const std::string& message() const { return message_; }

 private:
  Status() = default;
  Status(std::string message, bool ok) : message_(std::move(message)), ok_(ok) {}

  std::string message_;
  bool ok_ = true;
};

/// A value or an error `Status` (the project's `std::expected`, which C++20 lacks).
template <typename T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Status error) : state_(std::move(error)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(state_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(state_); }
  /// The error; `Status::Ok()` when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(state_); }

  const T& value() const& { return std::get<T>(state_); }
  T& value() & { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace sre
