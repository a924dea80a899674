// The msgpack encodings notepack.io 3 picks, one function per msgpack family.

#include "common/msgpack_writer.h"

#include <cmath>
#include <cstring>

namespace chatd::wire {

void msgpack_writer::be(uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    byte(static_cast<uint8_t>(v >> (8 * i)));
  }
}

bool msgpack_writer::str(std::string_view s) {
  if (s.size() < 0x20) {
    byte(static_cast<uint8_t>(0xa0 | s.size()));
  } else if (!sized_header(s.size(), 0xd9, 0xda, 0xdb)) {
    return false;
  }
  out_.append(s);
  return true;
}

bool msgpack_writer::bin(std::string_view b) {
  if (!sized_header(b.size(), 0xc4, 0xc5, 0xc6)) return false;
  out_.append(b);
  return true;
}

bool msgpack_writer::wide_header(size_t n, uint8_t tag16, uint8_t tag32) {
  if (n < 0x10000) {
    byte(tag16);
    be(n, 2);
  } else if (n <= 0xffffffffULL) {
    byte(tag32);
    be(n, 4);
  } else {
    return false;
  }
  return true;
}

bool msgpack_writer::sized_header(size_t n, uint8_t tag8, uint8_t tag16, uint8_t tag32) {
  if (n >= 0x100) return wide_header(n, tag16, tag32);
  byte(tag8);
  be(n, 1);
  return true;
}

void msgpack_writer::uint(uint64_t v) {
  if (v < 0x80) {
    byte(static_cast<uint8_t>(v));
  } else if (v < 0x100) {
    byte(0xcc);
    be(v, 1);
  } else if (v < 0x10000) {
    byte(0xcd);
    be(v, 2);
  } else if (v < 0x100000000ULL) {
    byte(0xce);
    be(v, 4);
  } else {
    byte(0xcf);
    be(v, 8);
  }
}

void msgpack_writer::sint(int64_t v) {
  if (v >= 0) {
    uint(static_cast<uint64_t>(v));
    return;
  }
  const auto bits = static_cast<uint64_t>(v);
  if (v >= -0x20) {
    byte(static_cast<uint8_t>(bits));
  } else if (v >= -0x80) {
    byte(0xd0);
    be(bits, 1);
  } else if (v >= -0x8000) {
    byte(0xd1);
    be(bits, 2);
  } else if (v >= -0x80000000LL) {
    byte(0xd2);
    be(bits, 4);
  } else {
    byte(0xd3);
    be(bits, 8);
  }
}

// notepack's 64-bit integer path is exact on [-2^63, 2^64) only, so beyond that we keep the
// float.
void msgpack_writer::number(double d) {
  if (std::isfinite(d) && std::floor(d) == d && d >= -9223372036854775808.0 &&
      d < 18446744073709551616.0) {
    if (d >= 0) {
      uint(static_cast<uint64_t>(d));  // -0.0 lands here too, as notepack's 0x00
    } else {
      sint(static_cast<int64_t>(d));
    }
    return;
  }
  uint64_t bits = 0;
  std::memcpy(&bits, &d, sizeof bits);
  byte(0xcb);
  be(bits, 8);
}

bool msgpack_writer::count_header(size_t n, uint8_t fix, uint8_t tag16, uint8_t tag32) {
  if (n >= 0x10) return wide_header(n, tag16, tag32);
  byte(static_cast<uint8_t>(fix | n));
  return true;
}

bool msgpack_writer::array_header(size_t n) { return count_header(n, 0x90, 0xdc, 0xdd); }

bool msgpack_writer::map_header(size_t n) { return count_header(n, 0x80, 0xde, 0xdf); }

}  // namespace chatd::wire
