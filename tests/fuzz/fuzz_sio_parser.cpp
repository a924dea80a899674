// libFuzzer target for the Socket.IO packet decoder and the EVENT splitter, with the text codecs
// that sit next to them on a request's way in (URL query, base64). Checks, beyond sanitizers:
// - a packet parse() accepts has a known type, a namespace starting with '/', data that is a
//   suffix of the input, and encodes back to text that parses to the same parts;
// - every EVENT parse() accepts is split by split_event(), whose views lie inside the data;
// - split_event() on anything at all stays inside its input;
// - a query's to_json() is valid UTF-8 and valid JSON; base64 round-trips.

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/base64.h"
#include "common/engineio.h"
#include "common/socketio.h"
#include "common/url_query.h"
#include "common/utf8.h"

namespace sio = chatd::sio;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

bool valid_json(const std::string& text) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  return parser.parse(text).get(root) == simdjson::SUCCESS;
}

void fuzz_packet(std::string_view text) {
  std::string why;
  auto p = sio::parse(text, &why);
  if (!p) {
    check(!why.empty());
    return;
  }
  check(static_cast<unsigned>(p->type) <= 6);
  check(!p->nsp.empty() && p->nsp[0] == '/');
  check(p->nsp.find(',') == std::string_view::npos);
  check(inside(p->data, text) && p->data.data() + p->data.size() == text.data() + text.size());
  bool binary = p->type == sio::packet_type::binary_event || p->type == sio::packet_type::binary_ack;
  check(binary == (p->attachments >= 1 && p->attachments <= 10));

  if (p->type == sio::packet_type::event || p->type == sio::packet_type::binary_event) {
    auto ev = sio::split_event(p->data);
    check(ev.has_value());
    check(inside(ev->first_arg, p->data));
    check((ev->argc == 0) == ev->first_arg.empty());
  }

  if (!binary) {
    std::string wire = sio::encode(p->type, p->nsp, p->data, p->ack_id);
    check(wire[0] == '4');
    auto back = sio::parse(std::string_view(wire).substr(1));
    check(back.has_value());
    check(back->type == p->type && back->nsp == p->nsp && back->ack_id == p->ack_id &&
          back->data == p->data);
  }
}

void fuzz_text_codecs(std::string_view text) {
  auto ev = sio::split_event(text);
  if (ev) check(inside(ev->first_arg, text));

  auto q = chatd::parse_url_query(text);
  std::string json = q.to_json();
  check(chatd::valid_utf8(json));
  check(valid_json(json));

  auto bin = chatd::base64::decode(text);
  if (bin) check(chatd::base64::encode(*bin).size() == text.size());
  check(chatd::base64::decode(chatd::base64::encode(text)) == std::string(text));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz_packet(text);
  fuzz_text_codecs(text);
  return 0;
}
