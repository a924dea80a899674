// libFuzzer target for the Redis bus decoder (common/bus_wire.h): it parses whatever any
// publisher on the adapter's channels writes. Checks, beyond sanitizers:
// - a message decode_broadcast() accepts has packet.data rendered as valid JSON (an array) and
//   one placeholder per attachment, numbered in order;
// - it encodes back, decodes to the same broadcast and re-encodes to the same bytes (what chatd
//   relays, Node reads the same);
// - room_of_channel() on the input as a channel name only names channels of ours.
// Written against the public header only: the decoder's sources may be split.

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/bus_wire.h"
#include "common/json_js_compat.h"

namespace wire = chatd::wire;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool same(const wire::broadcast& a, const wire::broadcast& b) {
  return a.uid == b.uid && a.type == b.type && a.nsp == b.nsp && a.data_json == b.data_json &&
         a.attachments == b.attachments && a.rooms == b.rooms && a.except == b.except &&
         a.volatile_flag == b.volatile_flag;
}

// Counts {"_placeholder":true,"num":i} objects and checks they are numbered 0, 1, ...
void check_placeholders(simdjson::dom::element e, size_t& next) {
  simdjson::dom::array arr;
  if (e.get_array().get(arr) == simdjson::SUCCESS) {
    for (auto item : arr) check_placeholders(item, next);
    return;
  }
  simdjson::dom::object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) return;
  bool placeholder = false;
  if (obj["_placeholder"].get(placeholder) == simdjson::SUCCESS && placeholder &&
      obj.size() == 2) {
    simdjson::dom::element num;
    if (obj["num"].get(num) == simdjson::SUCCESS && (num.is_uint64() || num.is_int64())) {
      uint64_t n = 0;
      check(num.get(n) == simdjson::SUCCESS && n == next);
      ++next;
      return;
    }
  }
  for (auto field : obj) check_placeholders(field.value, next);
}

void fuzz_decode(std::string_view bytes) {
  auto b = wire::decode_broadcast(bytes);
  if (!b) {
    check(!b.error().empty());
    return;
  }
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  // The decoder writes numbers as JSON.stringify does (1e20 as 21 digits), which simdjson reads
  // only after the repair every chatd reader of outside JSON applies.
  auto error = parser.parse(b->data_json).get(root);
  if (error == simdjson::NUMBER_ERROR) {
    error = parser.parse(chatd::js_compatible_json(b->data_json)).get(root);
  }
  check(error == simdjson::SUCCESS);
  check(root.is_array());
  if (!b->attachments.empty()) {
    size_t n = 0;
    check_placeholders(root, n);
    check(n == b->attachments.size());
  }

  // What chatd relays, Node reads the same: it encodes, decodes back to the same broadcast, and
  // encoding that gives the same bytes. data_json is compared as bytes after one round only: a
  // float64 holding an integer beyond 2^53 is printed as JavaScript does (-9223372036854776000)
  // but re-encoded, as notepack does, as an int64 that prints exactly (-9223372036854775808).
  auto again = wire::encode_broadcast(*b);
  check(again.has_value());
  auto back = wire::decode_broadcast(*again);
  check(back.has_value());
  wire::broadcast b_text_as_back = *b;
  b_text_as_back.data_json = back->data_json;
  check(same(b_text_as_back, *back));
  auto third = wire::encode_broadcast(*back);
  check(third.has_value() && *third == *again);
}

void fuzz_channel(std::string_view text) {
  auto room = wire::room_of_channel(text, "socket.io", "/");
  if (!room) return;
  std::string expect = room->empty() ? wire::broadcast_channel("socket.io", "/")
                                     : wire::room_channel("socket.io", "/", *room);
  check(expect == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  fuzz_decode(bytes);
  fuzz_channel(bytes);
  return 0;
}
