#pragma once
// JSON \uXXXX escapes and UTF-16 surrogates, the one place that reads them. JSON.parse accepts a
// lone (unpaired) surrogate escape such as "\ud83d" (JSON.stringify writes one for a JS string
// cut inside an emoji); UTF-8 cannot carry it, so Node turns it into U+FFFD when it writes the
// string out. chatd repairs it the same way wherever JSON text is read.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace chatd {

// What a "\u" escape at a position stands for.
struct u_escape {
  uint32_t code_point = 0;  // the character; U+FFFD for a lone surrogate
  size_t length = 0;        // bytes read: 6, 12 for a surrogate pair, 0 when not a \uXXXX escape
  bool lone_surrogate = false;
};

// Reads the escape that starts with the backslash at s[at]: "\uXXXX", or a high and a low
// surrogate "\uD83D\uDE00" joined into one code point.
u_escape read_u_escape(std::string_view s, size_t at);

// Rewrites every lone surrogate escape in the JSON text p[0, n) as "\ufffd" in place: same
// length, and the text is otherwise exactly as valid as before (simdjson refuses lone
// surrogates; JSON.parse then Buffer.write would have made U+FFFD of them).
void neutralize_lone_surrogates(char* p, size_t n);

}  // namespace chatd
