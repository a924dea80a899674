#pragma once
// JSON text output shared by the codecs: strings quoted and escaped exactly as JSON.stringify
// does, after the UTF-8 repair Node applies to bytes (so output equals a Node server's).

#include <string>
#include <string_view>

namespace chatd {

// Appends `s` as a JSON string literal (quotes included); ill-formed UTF-8 becomes U+FFFD.
void append_json_string(std::string& out, std::string_view s);

}  // namespace chatd
