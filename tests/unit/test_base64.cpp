// common/base64: RFC 4648 vectors, round trips, what the decoder refuses, and the URL-safe form
// of session ids.

#include <doctest/doctest.h>

#include <string>

#include "common/base64.h"

namespace base64 = chatd::base64;

TEST_CASE("base64: encode follows RFC 4648 test vectors") {
  CHECK(base64::encode("") == "");
  CHECK(base64::encode("f") == "Zg==");
  CHECK(base64::encode("fo") == "Zm8=");
  CHECK(base64::encode("foo") == "Zm9v");
  CHECK(base64::encode("foob") == "Zm9vYg==");
  CHECK(base64::encode("fooba") == "Zm9vYmE=");
  CHECK(base64::encode("foobar") == "Zm9vYmFy");
  CHECK(base64::encode("\xFB\xFF\xBF") == "+/+/");
}

TEST_CASE("base64: decode follows RFC 4648 test vectors") {
  CHECK(base64::decode("") == std::string());
  CHECK(base64::decode("Zg==") == std::string("f"));
  CHECK(base64::decode("Zm8=") == std::string("fo"));
  CHECK(base64::decode("Zm9v") == std::string("foo"));
  CHECK(base64::decode("Zm9vYg==") == std::string("foob"));
  CHECK(base64::decode("Zm9vYmE=") == std::string("fooba"));
  CHECK(base64::decode("Zm9vYmFy") == std::string("foobar"));
  CHECK(base64::decode("+/+/") == std::string("\xFB\xFF\xBF"));
}

TEST_CASE("base64: round-trips every byte value at every length up to 300") {
  for (size_t len = 0; len <= 300; ++len) {
    std::string data(len, '\0');
    for (size_t i = 0; i < len; ++i) data[i] = static_cast<char>((i * 37 + len) & 0xFF);
    auto text = base64::encode(data);
    CHECK(text.size() == (len + 2) / 3 * 4);
    auto back = base64::decode(text);
    REQUIRE(back.has_value());
    CHECK(*back == data);
  }
}

TEST_CASE("base64: decode rejects a length that is not a multiple of 4") {
  for (auto bad : {"Z", "Zg", "Zg=", "Zm9", "Zm9vY", "Zm9vYg=", "Zm9vYg==="}) {
    CHECK_FALSE_MESSAGE(base64::decode(bad).has_value(), std::string(bad));
  }
}

TEST_CASE("base64: decode rejects characters outside the standard alphabet") {
  for (auto bad : {"Zm9-", "Zm9_", "Zm 9", "Zm9v\n", "Zm9\x80", "Zm.v", "Zm9v\r\nZm9v"}) {
    CHECK_FALSE_MESSAGE(base64::decode(bad).has_value(), std::string(bad));
  }
}

TEST_CASE("base64: decode rejects misplaced padding") {
  for (auto bad : {"====", "Z===", "=Zm9", "Z=m9", "Zm=v", "Zg==Zm9v", "Zm8=Zm9v", "A==="}) {
    CHECK_FALSE_MESSAGE(base64::decode(bad).has_value(), std::string(bad));
  }
}

TEST_CASE("base64: encode_url uses '-' and '_' and writes no padding") {
  CHECK(base64::encode_url("\xFB\xFF\xBF") == "-_-_");
  CHECK(base64::encode_url("f") == "Zg");
  CHECK(base64::encode_url("fo") == "Zm8");
}

TEST_CASE("base64: url_value maps the URL-safe alphabet and refuses the rest") {
  CHECK(base64::url_value('A') == 0);
  CHECK(base64::url_value('-') == 62);
  CHECK(base64::url_value('_') == 63);
  CHECK(base64::url_value('+') == -1);
  CHECK(base64::url_value('/') == -1);
  CHECK(base64::url_value('=') == -1);
}
