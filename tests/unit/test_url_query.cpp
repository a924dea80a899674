// URL queries: decoding as Node's querystring.parse, and JSON as JSON.stringify writes it.
// Expected values were taken from Node 20 (`querystring.parse`, `JSON.stringify`).

#include <doctest/doctest.h>

#include <string>

#include "common/url_query.h"

using chatd::append_json_string;
using chatd::parse_url_query;
using chatd::split_target;

namespace {

std::string json_of(std::string_view query) { return parse_url_query(query).to_json(); }

std::string json_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

}  // namespace

TEST_CASE("url: split_target separates path and query at the first '?'") {
  using sv = std::string_view;
  CHECK(split_target("/socket.io/?EIO=4&transport=websocket") ==
        std::pair<sv, sv>{"/socket.io/", "EIO=4&transport=websocket"});
  CHECK(split_target("/healthz") == std::pair<sv, sv>{"/healthz", ""});
  CHECK(split_target("/a?") == std::pair<sv, sv>{"/a", ""});
  CHECK(split_target("/a?b=?c") == std::pair<sv, sv>{"/a", "b=?c"});
  CHECK(split_target("") == std::pair<sv, sv>{"", ""});
}

TEST_CASE("url: pairs are kept in order of appearance") {
  auto q = parse_url_query("EIO=4&transport=websocket&channel=general&userId=alice");
  REQUIRE(q.params.size() == 4);
  CHECK(q.params[0] == std::pair<std::string, std::string>{"EIO", "4"});
  CHECK(q.params[3] == std::pair<std::string, std::string>{"userId", "alice"});
}

TEST_CASE("url: get returns the first value or nullptr") {
  auto q = parse_url_query("a=1&b=2&a=3");
  REQUIRE(q.get("a") != nullptr);
  CHECK(*q.get("a") == "1");
  CHECK(*q.get("b") == "2");
  CHECK(q.get("c") == nullptr);
  CHECK(q.get("") == nullptr);
}

TEST_CASE("url: '+' decodes to a space and %XX to a byte") {
  auto q = parse_url_query("a+b=c+d&e=%41%2b%2F%20x&k%3D=%3d");
  REQUIRE(q.params.size() == 3);
  CHECK(q.params[0].first == "a b");
  CHECK(q.params[0].second == "c d");
  CHECK(q.params[1].second == "A+/ x");
  CHECK(q.params[2].first == "k=");
  CHECK(q.params[2].second == "=");
}

TEST_CASE("url: percent-encoded UTF-8 decodes to the characters") {
  auto q = parse_url_query("name=%EC%B1%84%ED%8C%85&e=%F0%9F%98%80");
  CHECK(*q.get("name") == "\xEC\xB1\x84\xED\x8C\x85");  // "채팅"
  CHECK(*q.get("e") == "\xF0\x9F\x98\x80");
}

TEST_CASE("url: malformed escapes are kept literally") {
  CHECK(*parse_url_query("a=%zz").get("a") == "%zz");
  CHECK(*parse_url_query("a=%4x").get("a") == "%4x");
  CHECK(*parse_url_query("a=%").get("a") == "%");
  CHECK(*parse_url_query("a=%4").get("a") == "%4");
  CHECK(*parse_url_query("a=x%").get("a") == "x%");
  CHECK(*parse_url_query("a=%%41").get("a") == "%A");
  CHECK(*parse_url_query("a=%4%41").get("a") == "%4A");
  CHECK(*parse_url_query("a=%zz%C3%A9").get("a") == "%zz\xC3\xA9");
}

TEST_CASE("url: bytes that are not UTF-8 become U+FFFD, one per maximal subpart") {
  const std::string r = "\xEF\xBF\xBD";
  CHECK(*parse_url_query("a=%FF").get("a") == r);
  CHECK(*parse_url_query("a=%C0%80").get("a") == r + r);
  CHECK(*parse_url_query("a=%E0%80%AF").get("a") == r + r + r);
  CHECK(*parse_url_query("a=%ED%A0%80x").get("a") == r + r + r + "x");
  CHECK(*parse_url_query("a=%F4%90%80%80").get("a") == r + r + r + r);
  CHECK(*parse_url_query("a=%E2%82").get("a") == r);
  CHECK(*parse_url_query("a=%E2%82%41").get("a") == r + "A");
  CHECK(*parse_url_query("a=%C3").get("a") == r);
  CHECK(*parse_url_query("a=%80%BF").get("a") == r + r);
  CHECK(*parse_url_query("x=%F0%9F%98%80%F0%9F").get("x") == "\xF0\x9F\x98\x80" + r);
  CHECK(parse_url_query("%FF=1").params[0].first == r);
}

TEST_CASE("url: empty pieces are skipped, a key without '=' has an empty value") {
  auto q = parse_url_query("a&&b=&=x&");
  REQUIRE(q.params.size() == 3);
  CHECK(q.params[0] == std::pair<std::string, std::string>{"a", ""});
  CHECK(q.params[1] == std::pair<std::string, std::string>{"b", ""});
  CHECK(q.params[2] == std::pair<std::string, std::string>{"", "x"});
  CHECK(parse_url_query("").params.empty());
  CHECK(parse_url_query("&").params.empty());
  CHECK(parse_url_query("=").params.size() == 1);
}

TEST_CASE("url: a value keeps any '=' after the first") {
  auto q = parse_url_query("t=a=b=c");
  CHECK(*q.get("t") == "a=b=c");
}

TEST_CASE("url: only the first 1000 pieces are read, as querystring's maxKeys") {
  std::string many;
  for (int i = 0; i < 1005; ++i) {
    many += 'k';
    many += std::to_string(i);
    many += "=1&";
  }
  CHECK(parse_url_query(many).params.size() == 1000);
  std::string empties(1005, '&');
  CHECK(parse_url_query(empties + "z=1").params.empty());
}

TEST_CASE("url: to_json renders an object of strings") {
  CHECK(json_of("") == "{}");
  CHECK(json_of("channel=general&userId=alice") ==
        R"({"channel":"general","userId":"alice"})");
  CHECK(json_of("EIO=4&transport=websocket&channel=room%201") ==
        R"({"EIO":"4","transport":"websocket","channel":"room 1"})");
}

TEST_CASE("url: to_json turns repeated keys into arrays at the first appearance") {
  CHECK(json_of("a=1&b=2&a=3&a=4") == R"({"a":["1","3","4"],"b":"2"})");
  CHECK(json_of("a=&a") == R"({"a":["",""]})");
}

TEST_CASE("url: to_json lists array-index keys first, ascending, as JavaScript objects do") {
  CHECK(json_of("b=1&2=x&1=y") == R"({"1":"y","2":"x","b":"1"})");
  CHECK(json_of("0=a&10=b&01=c&4294967295=d&4294967294=e&z=f") ==
        R"({"0":"a","10":"b","4294967294":"e","01":"c","4294967295":"d","z":"f"})");
}

TEST_CASE("url: to_json keeps each key's values in order among many keys") {
  // Built with append only: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
  auto key = [](int i) {
    std::string k(1, 'k');
    k.append(std::to_string(i));
    return k;
  };
  std::string query;
  std::string expected = "{";
  for (int i = 0; i < 300; ++i) {
    query.append(key(i)).append("=a&");
    expected.append(1, '"').append(key(i)).append(R"(":["a","b","c"],)");
  }
  for (char v : {'b', 'c'}) {
    for (int i = 0; i < 300; ++i) query.append(key(i)).append(1, '=').append(1, v).append(1, '&');
  }
  expected.back() = '}';
  CHECK(json_of(query) == expected);
}

TEST_CASE("url: to_json escapes keys and values") {
  CHECK(json_of("q%22=%5C%0A") == R"({"q\"":"\\\n"})");
}

TEST_CASE("url: append_json_string escapes as JSON.stringify") {
  CHECK(json_string("") == R"("")");
  CHECK(json_string("plain") == R"("plain")");
  CHECK(json_string("q\"b\\s\b\f\n\r\t") == R"("q\"b\\s\b\f\n\r\t")");
  CHECK(json_string(std::string_view("\x00\x01\x1f", 3)) == R"("\u0000\u0001\u001f")");
  CHECK(json_string("\x1a") == R"("\u001a")");
}

TEST_CASE("url: append_json_string copies DEL, '/' and non-ASCII as they are") {
  CHECK(json_string("\x7f/\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xE2\x80\xA8") ==
        "\"\x7f/\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xE2\x80\xA8\"");
}

TEST_CASE("url: append_json_string appends to what is already there") {
  std::string out = "x=";
  append_json_string(out, "a\"b");
  CHECK(out == "x=\"a\\\"b\"");
}
