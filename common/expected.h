#pragma once
// A small value-or-error type (std::expected is C++23; we build as C++20). Errors are values on
// the hot path and in loaders; nothing here throws.

#include <string>
#include <utility>
#include <variant>

namespace chatd {

template <class E>
struct unexpected {
  // A constructor, not an aggregate: clang before 16 has no parenthesized aggregate init, and
  // `unexpected(std::string(...))` must build with the fuzzers' clang too.
  explicit unexpected(E e) : error(std::move(e)) {}
  E error;
};
template <class E>
unexpected(E) -> unexpected<E>;

template <class T, class E = std::string>
class expected {
 public:
  expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  template <class G>
  expected(unexpected<G> e) : v_(std::in_place_index<1>, E(std::move(e.error))) {}

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const E& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

}  // namespace chatd
