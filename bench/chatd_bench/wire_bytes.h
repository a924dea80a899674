#pragma once
// Native-endian byte packing for the pipe between chatd-bench's processes: both ends are the
// same binary on the same machine, so fixed-width integers are written as they are in memory.

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace chatd::bench {

inline void put_u64(std::string& out, uint64_t v) {
  char b[sizeof v];
  std::memcpy(b, &v, sizeof v);
  out.append(b, sizeof v);
}

inline void put_bytes(std::string& out, std::string_view s) {
  put_u64(out, s.size());
  out.append(s);
}

// Each reader consumes from the front of `in`; nullopt (and `in` unchanged) when too short.
inline std::optional<uint64_t> get_u64(std::string_view& in) {
  uint64_t v;
  if (in.size() < sizeof v) return std::nullopt;
  std::memcpy(&v, in.data(), sizeof v);
  in.remove_prefix(sizeof v);
  return v;
}

inline std::optional<std::string_view> get_bytes(std::string_view& in) {
  std::string_view save = in;
  auto n = get_u64(in);
  if (!n || *n > in.size()) {
    in = save;
    return std::nullopt;
  }
  std::string_view s = in.substr(0, *n);
  in.remove_prefix(*n);
  return s;
}

}  // namespace chatd::bench
