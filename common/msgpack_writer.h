#pragma once
// A msgpack writer that picks the encodings notepack.io picks (smallest integer form, str/bin by
// length, float64 for other numbers), so chatd's bus messages equal a Node adapter's byte for
// byte. Appends to a caller's string; no allocation beyond the string's own growth.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace chatd::wire {

class msgpack_writer {
 public:
  explicit msgpack_writer(std::string& out) : out_(out) {}

  // fixstr/str8/16/32 by byte length; false when the length does not fit 32 bits.
  bool str(std::string_view s);
  // A Buffer, as notepack writes it: bin8/16/32; false past 32 bits.
  bool bin(std::string_view b);
  // Positive fixint or uint8..64, the smallest that holds `v`.
  void uint(uint64_t v);
  // Negative fixint or int8..64 for v < 0, else as uint().
  void sint(int64_t v);
  // notepack: an integral finite number takes the integer path, anything else float64.
  void number(double d);
  // fixarray/array16/array32 and fixmap/map16/map32 headers; false past 32 bits.
  bool array_header(size_t n);
  bool map_header(size_t n);
  void nil() { byte(0xc0); }
  void boolean(bool b) { byte(b ? 0xc3 : 0xc2); }

 private:
  void byte(uint8_t b) { out_.push_back(static_cast<char>(b)); }
  // `v` big-endian in its low `bytes` bytes.
  void be(uint64_t v, int bytes);
  // The 16/32-bit length forms every sized family shares; false past 32 bits.
  bool wide_header(size_t n, uint8_t tag16, uint8_t tag32);
  // The 8/16/32-bit length forms shared by str and bin.
  bool sized_header(size_t n, uint8_t tag8, uint8_t tag16, uint8_t tag32);
  // The fix/16/32-bit forms of array and map headers.
  bool count_header(size_t n, uint8_t fix, uint8_t tag16, uint8_t tag32);

  std::string& out_;
};

}  // namespace chatd::wire
