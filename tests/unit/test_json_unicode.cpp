// common/json_unicode: \u escapes read as JSON.parse reads them, and the in-place U+FFFD repair
// of lone surrogates.

#include <doctest/doctest.h>

#include <string>

#include "common/json_unicode.h"

using chatd::neutralize_lone_surrogates;
using chatd::read_u_escape;

namespace {

std::string neutralized(std::string s) {
  neutralize_lone_surrogates(s.data(), s.size());
  return s;
}

}  // namespace

TEST_CASE("json unicode: a BMP escape is its code point, six bytes long") {
  auto e = read_u_escape("\\u00e9", 0);
  CHECK(e.code_point == 0xE9);
  CHECK(e.length == 6);
  CHECK_FALSE(e.lone_surrogate);
}

TEST_CASE("json unicode: a surrogate pair is one code point, twelve bytes long") {
  auto e = read_u_escape("x\\ud83d\\ude00y", 1);
  CHECK(e.code_point == 0x1F600);
  CHECK(e.length == 12);
  CHECK_FALSE(e.lone_surrogate);
}

TEST_CASE("json unicode: a lone high or low surrogate is U+FFFD") {
  for (const char* s : {"\\ud83d", "\\ud83dx", "\\ud83d\\u0041", "\\ude00", "\\ud83d\\ud83d"}) {
    auto e = read_u_escape(s, 0);
    CHECK_MESSAGE(e.lone_surrogate, s);
    CHECK(e.code_point == 0xFFFD);
    CHECK(e.length == 6);
  }
}

TEST_CASE("json unicode: what is not a \\uXXXX escape has length 0") {
  for (const char* s : {"\\n", "\\u12", "\\u12G4", "\\", "u1234"}) {
    CHECK_MESSAGE(read_u_escape(s, 0).length == 0, s);
  }
}

TEST_CASE("json unicode: lone surrogates become \\ufffd in place, pairs and others stay") {
  CHECK(neutralized(R"(["\ud83d"])") == R"(["\ufffd"])");
  CHECK(neutralized(R"(["\ude00x"])") == R"(["\ufffdx"])");
  CHECK(neutralized(R"(["\ud83d\ude00"])") == R"(["\ud83d\ude00"])");
  CHECK(neutralized(R"(["\u00e9\n\"\\ud800"])") == R"(["\u00e9\n\"\\ud800"])");
  CHECK(neutralized(R"(["\ud83d\ud83d\ude00"])") == R"(["\ufffd\ud83d\ude00"])");
  CHECK(neutralized(R"(["\ud8)") == R"(["\ud8)");
}
