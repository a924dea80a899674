// JSON string literals as JSON.stringify writes them.

#include "common/json_text.h"

#include "common/utf8.h"

#include <cstdint>

namespace chatd {

// JSON.stringify's QuoteJSONString, after Buffer#toString's repair of ill-formed UTF-8.
void append_json_string(std::string& out, std::string_view s) {
  static constexpr char k_hex[] = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < s.size();) {
    size_t run = i;  // printable ASCII that needs no escape goes out in one append
    while (run < s.size() && static_cast<uint8_t>(s[run]) >= 0x20 &&
           static_cast<uint8_t>(s[run]) < 0x80 && s[run] != '"' && s[run] != '\\') {
      ++run;
    }
    if (run > i) {
      out.append(s.substr(i, run - i));
      i = run;
      continue;
    }
    const auto c = static_cast<uint8_t>(s[i]);
    if (c >= 0x80) {
      const utf8_step step = next_utf8(s, i);
      out.append(step.ok ? s.substr(i, step.len) : k_replacement_char);
      i += step.len;
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += k_hex[c >> 4];
          out += k_hex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

}  // namespace chatd
