// See json_js_compat.h.

#include "common/json_js_compat.h"

#include "common/json_unicode.h"

#include <string>

namespace chatd {

namespace {

bool integer_fits_64(std::string_view digits, bool negative) {
  const std::string_view limit = negative ? "9223372036854775808" : "18446744073709551615";
  if (digits.size() != limit.size()) {
    return digits.size() < limit.size();
  }
  return digits <= limit;
}

}  // namespace

std::string js_compatible_json(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  bool in_string = false;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (in_string) {
      if (c == '"') {
        in_string = false;
      } else if (c == '\\' && i + 1 < s.size()) {
        // An escape is copied whole so an escaped quote does not end the string; lone surrogate
        // escapes are repaired once the whole text is copied (in place, same length).
        out.append(s.substr(i, 2));
        i += 2;
        continue;
      }
      out += c;
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t j = i;
      while (j < s.size() && (s[j] == '-' || s[j] == '+' || s[j] == '.' || s[j] == 'e' ||
                              s[j] == 'E' || (s[j] >= '0' && s[j] <= '9'))) {
        ++j;
      }
      const std::string_view token = s.substr(i, j - i);
      out.append(token);
      const bool negative = token.front() == '-';
      const std::string_view digits = token.substr(negative ? 1 : 0);
      if (!digits.empty() &&
          digits.find_first_not_of("0123456789") == std::string_view::npos &&
          !integer_fits_64(digits, negative)) {
        out += ".0";
      }
      i = j;
      continue;
    }
    out += c;
    ++i;
  }
  neutralize_lone_surrogates(out.data(), out.size());
  return out;
}

}  // namespace chatd
