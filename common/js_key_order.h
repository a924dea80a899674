#pragma once
// JavaScript's own-key order, the one rule for it: V8 lists an object's "array index" keys first,
// in ascending numeric order, then the other keys in the order they were added; JSON.stringify and
// notepack follow it. chatd's JSON (the handshake query, bus payloads) must come out in that
// order to equal a Node server's byte for byte.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace chatd {

// The key as an array index: canonical decimal (no sign, no leading zero but "0" itself), at most
// 2^32 - 2. nullopt for any other key.
constexpr std::optional<uint32_t> js_array_index(std::string_view key) {
  if (key.empty() || key.size() > 10 || (key.size() > 1 && key[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > 0xFFFFFFFEull) return std::nullopt;
  return static_cast<uint32_t>(v);
}

// Reorders [first, last) into own-key order; `key_of(element)` gives its key. Keys must already
// be distinct (a repeated key keeps its first place: collapse repeats before). Stable, and
// nothing is moved when no key is an array index (the usual chat payload).
template <class It, class KeyOf>
void sort_js_key_order(It first, It last, KeyOf key_of) {
  bool any_index =
      std::any_of(first, last, [&](const auto& e) { return js_array_index(key_of(e)).has_value(); });
  if (!any_index) return;
  std::stable_sort(first, last, [&](const auto& a, const auto& b) {
    auto ia = js_array_index(key_of(a));
    auto ib = js_array_index(key_of(b));
    if (ia && ib) return *ia < *ib;
    return ia.has_value() && !ib.has_value();
  });
}

// One member of an object being built, shared by the bus encoder (JSON.parse then notepack) and
// decoder (notepack then JSON.stringify).
template <class V>
struct js_entry {
  std::string_view key;
  V value;
};

// Turns `entries`, in the order they were read, into the object JavaScript would hold: repeated
// keys collapsed (first position, last value), then own-key order. Small objects (the usual chat
// payload) take the quadratic path, which allocates nothing.
template <class V>
void js_object_order(std::vector<js_entry<V>>& entries) {
  constexpr size_t k_linear_max = 16;
  bool any_dup = false;
  if (entries.size() <= k_linear_max) {
    for (size_t i = 0; i < entries.size() && !any_dup; ++i) {
      for (size_t j = 0; j < i && !any_dup; ++j) {
        any_dup = entries[j].key == entries[i].key;
      }
    }
  } else {
    std::unordered_map<std::string_view, size_t> seen;
    seen.reserve(entries.size());
    for (auto& e : entries) {
      any_dup = !seen.emplace(e.key, 0).second || any_dup;
    }
  }
  if (any_dup) {
    std::vector<js_entry<V>> unique;
    unique.reserve(entries.size());
    std::unordered_map<std::string_view, size_t> where;
    for (auto& e : entries) {
      auto [it, fresh] = where.emplace(e.key, unique.size());
      if (fresh) {
        unique.push_back(e);
      } else {
        unique[it->second].value = e.value;
      }
    }
    entries.swap(unique);
  }
  sort_js_key_order(entries.begin(), entries.end(), [](const js_entry<V>& e) { return e.key; });
}

}  // namespace chatd
