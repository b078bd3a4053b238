// Result<T>: a value or an Error, spelled like std::expected (C++23).
//
// Setup and control paths return [[nodiscard]] Result<T>. An Error carries the
// std::error_code for callers that branch on it and one human line that names
// the problem for the user. errno becomes an Error in exactly one helper per
// boundary (SysError). The I/O path does not use this type: it keeps the raw
// negative errno a ublk completion carries.
#pragma once

#include <cerrno>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace ublk {

class Error {
 public:
  Error(std::error_code code, std::string text)
      : code_(code), text_(std::move(text)) {}

  const std::error_code& code() const { return code_; }
  // One line naming the problem, suitable for the user.
  const std::string& message() const { return text_; }
  // The same error with more context in front ("adding device 3: ...").
  Error Wrap(const std::string& context) const {
    return Error(code_, context + ": " + text_);
  }

 private:
  std::error_code code_;
  std::string text_;
};

// "what: strerror(err)" with the errno kept as the code. err is positive.
inline Error SysError(int err, const std::string& what) {
  std::error_code code(err, std::generic_category());
  return Error(code, what + ": " + code.message());
}
// A problem with the user's input or the system's state, described in full.
inline Error Invalid(const std::string& text) {
  return Error(std::make_error_code(std::errc::invalid_argument), text);
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  // By value from an rvalue, so `*MakeResult()` cannot dangle.
  T value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace ublk

// Propagates the error of a Result-returning expression.
#define UBLK_RETURN_IF_ERROR(expr)              \
  do {                                          \
    if (auto ublk_r_ = (expr); !ublk_r_.ok()) { \
      return ublk_r_.error();                   \
    }                                           \
  } while (0)
