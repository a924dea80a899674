// common/js_key_order: which keys V8 treats as array indexes, and the order it lists keys in.

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/js_key_order.h"

using chatd::js_array_index;

namespace {

std::vector<std::string> ordered(std::vector<std::string> keys) {
  chatd::sort_js_key_order(keys.begin(), keys.end(),
                           [](const std::string& k) { return std::string_view(k); });
  return keys;
}

}  // namespace

TEST_CASE("js key order: canonical decimals up to 2^32 - 2 are array indexes") {
  CHECK(js_array_index("0") == 0u);
  CHECK(js_array_index("42") == 42u);
  CHECK(js_array_index("4294967294") == 4294967294u);
}

TEST_CASE("js key order: signs, leading zeros, 2^32 - 1 and non-digits are not") {
  for (const char* k : {"", "01", "-1", "+1", "1.0", "1e3", "4294967295", "99999999999", "a1",
                        " 1"}) {
    CHECK_FALSE_MESSAGE(js_array_index(k).has_value(), k);
  }
}

TEST_CASE("js key order: index keys come first ascending, the others keep their order") {
  CHECK(ordered({"b", "10", "a", "2", "01", "0"}) ==
        std::vector<std::string>{"0", "2", "10", "b", "a", "01"});
}

TEST_CASE("js key order: keys with no array index keep their order") {
  CHECK(ordered({"z", "y", "x"}) == std::vector<std::string>{"z", "y", "x"});
}
