// URL query strings as Socket.IO servers see them: Engine.IO parses the handshake query with
// Node's `querystring.parse`, and the chat sends it back to clients (the `login` event) as
// `JSON.stringify(socket.handshake.query)`. This file reproduces both, byte for byte, because
// clients of the Node server may depend on the exact text.

#include "common/url_query.h"

#include <algorithm>
#include <cstdint>
#include <unordered_map>

#include "common/hex.h"
#include "common/js_key_order.h"
#include "common/utf8.h"

namespace chatd {

namespace {

// querystring.parse's default `maxKeys`: pieces after the first 1000 are ignored (this also
// bounds the work one request can cause).
constexpr size_t max_pieces = 1000;

// Node turns the decoded bytes into a JS string with Buffer#toString: every ill-formed sequence
// becomes U+FFFD. Doing the same keeps whatever we echo back valid UTF-8 (a WebSocket text frame
// that is not would make the client drop the connection).
void repair_utf8(std::string& s) {
  if (!valid_utf8(s)) s = utf8_repaired(s);
}

// querystring.unescape: '+' is a space, %XX a byte, and a '%' not followed by two hex digits is
// kept as it is.
std::string decode_component(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && hex_byte(s, i + 1) >= 0) {
      out.push_back(static_cast<char>(hex_byte(s, i + 1)));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  repair_utf8(out);
  return out;
}

}  // namespace

const std::string* url_query::get(std::string_view key) const {
  for (const auto& [k, v] : params) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string url_query::to_json() const {
  // One entry per distinct key, at its first appearance; `next` chains a key's later values.
  constexpr size_t none = static_cast<size_t>(-1);
  struct key_entry {
    size_t first;  // index into params
    size_t last;
  };
  std::vector<key_entry> keys;
  std::vector<size_t> next(params.size(), none);
  std::unordered_map<std::string_view, size_t> entry_of;  // key -> index into keys
  keys.reserve(params.size());
  entry_of.reserve(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    auto [it, added] = entry_of.try_emplace(params[i].first, keys.size());
    if (!added) {
      key_entry& e = keys[it->second];
      next[e.last] = i;
      e.last = i;
      continue;
    }
    keys.push_back(key_entry{i, i});
  }
  sort_js_key_order(keys.begin(), keys.end(),
                    [&](const key_entry& e) { return std::string_view(params[e.first].first); });

  std::string out = "{";
  for (const auto& e : keys) {
    if (out.size() > 1) out.push_back(',');
    append_json_string(out, params[e.first].first);
    out.push_back(':');
    if (e.first == e.last) {
      append_json_string(out, params[e.first].second);
      continue;
    }
    out.push_back('[');
    for (size_t i = e.first; i != none; i = next[i]) {
      if (i != e.first) out.push_back(',');
      append_json_string(out, params[i].second);
    }
    out.push_back(']');
  }
  out.push_back('}');
  return out;
}

url_query parse_url_query(std::string_view query) {
  url_query q;
  size_t pieces = 0;
  size_t start = 0;
  while (start <= query.size() && pieces < max_pieces) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view piece = query.substr(start, end - start);
    start = end + 1;
    ++pieces;
    if (piece.empty()) continue;  // "a&&b": nothing between the separators
    size_t eq = piece.find('=');
    std::string_view key = piece.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view{} : piece.substr(eq + 1);
    q.params.emplace_back(decode_component(key), decode_component(value));
  }
  return q;
}

std::pair<std::string_view, std::string_view> split_target(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

}  // namespace chatd
