// common/json_member: reading one string member of a JSON object, and setting it (replaced in
// place, appended when absent, duplicates folded, another member dropped).

#include "common/json_member.h"

#include <doctest/doctest.h>

using namespace chatd;

TEST_CASE("json member: get tells a string, another type, absent and not an object apart") {
  auto s = json_get_string_member(R"({"userId":"a\u00e9","x":1})", "userId");
  CHECK(s.state == json_member_state::string);
  CHECK(s.value == "a\xc3\xa9");
  CHECK(json_get_string_member(R"({"userId":7})", "userId").state == json_member_state::not_string);
  CHECK(json_get_string_member(R"({"x":"y"})", "userId").state == json_member_state::absent);
  CHECK(json_get_string_member(R"(["userId"])", "userId").state == json_member_state::not_object);
  CHECK(json_get_string_member("", "userId").state == json_member_state::not_object);
  // The last of duplicates, as JSON.parse keeps.
  CHECK(json_get_string_member(R"({"userId":"a","userId":"b"})", "userId").value == "b");
}

TEST_CASE("json member: set replaces in place, appends when absent, keeps the other members") {
  CHECK(json_set_string_member(R"({"userId":"x","body":"hi","n":[1,{"a":null}]})", "userId", "alice") ==
        R"({"userId":"alice","body":"hi","n":[1,{"a":null}]})");
  CHECK(json_set_string_member(R"({"body":"hi"})", "userId", "al\"ice") ==
        R"({"body":"hi","userId":"al\"ice"})");
  CHECK(json_set_string_member("{}", "userId", "a") == R"({"userId":"a"})");
  CHECK(json_set_string_member(R"({"userId":"x","userId":"y"})", "userId", "a") == R"({"userId":"a"})");
  CHECK_FALSE(json_set_string_member(R"("text")", "userId", "a").has_value());
  CHECK_FALSE(json_set_string_member("null", "userId", "a").has_value());
}

TEST_CASE("json member: set can drop another member") {
  CHECK(json_set_string_member(R"({"channel":"r","userId":"x","token":"t.t.t"})", "userId", "a", "token") ==
        R"({"channel":"r","userId":"a"})");
}
