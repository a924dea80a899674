// common/hex: single digits, percent-escape bytes and the four digits of a JSON \u escape.

#include <doctest/doctest.h>

#include "common/hex.h"

using chatd::hex4;
using chatd::hex_byte;
using chatd::hex_value;

TEST_CASE("hex: digits of either case have their value, anything else is -1") {
  CHECK(hex_value('0') == 0);
  CHECK(hex_value('9') == 9);
  CHECK(hex_value('a') == 10);
  CHECK(hex_value('F') == 15);
  for (char c : {'g', 'G', ' ', '%', '/', ':', '@', '`', '\0'}) CHECK(hex_value(c) == -1);
}

TEST_CASE("hex: hex_byte reads two digits and refuses one or a non-digit") {
  CHECK(hex_byte("%2F", 1) == 0x2F);
  CHECK(hex_byte("ff", 0) == 255);
  CHECK(hex_byte("%2", 1) == -1);
  CHECK(hex_byte("%2G", 1) == -1);
  CHECK(hex_byte("%", 1) == -1);
}

TEST_CASE("hex: hex4 reads four digits at a position, -1 when fewer are there") {
  CHECK(hex4("\\uD83D", 2) == 0xD83D);
  CHECK(hex4("\\u00e9", 2) == 0xE9);
  CHECK(hex4("\\u00e", 2) == -1);
  CHECK(hex4("\\u00eZ", 2) == -1);
}

static_assert(hex_value('b') == 11, "hex_value is usable at compile time");
