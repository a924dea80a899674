// libFuzzer target for the redis-adapter request channel decoder (common/bus_request.h): it parses
// whatever any publisher on socket.io-request#/# and socket.io-response#/# writes. Checks, beyond
// sanitizers:
// - a refusal always says why;
// - a request decode_request() accepts and encode_request() can send (one with a uid, not a 6.x
//   single-socket form) decodes back to the same type, ids, selection and arguments (a
//   requestId only where the request is answered);
// - a REMOTE_FETCH / ALL_ROOMS / SOCKETS answer decode_response() accepts encodes and decodes
//   back to the same sockets and rooms.
// Written against the public header only.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/bus_request.h"

namespace wire = chatd::wire;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool same_selector(const std::optional<wire::room_selector>& a,
                   const std::optional<wire::room_selector>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->rooms == b->rooms && a->except == b->except);
}

void fuzz_request(std::string_view bytes) {
  auto r = wire::decode_request(bytes);
  if (!r) {
    check(!r.error().empty());
    return;
  }
  auto again = wire::encode_request(*r);
  if (!again) return;
  auto back = wire::decode_request(*again);
  check(back.has_value());
  // A Node adapter sends JOIN/LEAVE/DISCONNECT with opts without a requestId (nobody answers
  // them), and so does chatd: one that came with an id goes out without it.
  const bool answered = r->type != wire::request_type::remote_join &&
                        r->type != wire::request_type::remote_leave &&
                        r->type != wire::request_type::remote_disconnect;
  check(back->type == r->type && back->uid == r->uid);
  check(!answered || back->request_id == r->request_id);
  check(same_selector(back->opts, r->opts) && back->rooms == r->rooms && back->close == r->close);
  check(back->data.json == r->data.json);
  check(back->packet.data_json == r->packet.data_json &&
        back->packet.attachments == r->packet.attachments);
}

void fuzz_response(std::string_view bytes) {
  auto r = wire::decode_response(bytes);
  if (!r) {
    check(!r.error().empty());
    return;
  }
  if (r->sockets && !r->sockets->empty()) {
    auto again = wire::encode_fetch_response(r->request_id, *r->sockets);
    check(again.has_value());
    auto back = wire::decode_response(*again);
    check(back.has_value() && back->sockets && back->sockets->size() == r->sockets->size());
    for (size_t i = 0; i < r->sockets->size(); ++i) {
      const auto& a = (*r->sockets)[i];
      const auto& b = (*back->sockets)[i];
      check(a.id == b.id && a.rooms == b.rooms && a.data_json == b.data_json &&
            a.hs.query_json == b.hs.query_json && a.hs.issued == b.hs.issued);
    }
  }
  if (r->rooms) {
    auto back = wire::decode_response(*wire::encode_all_rooms_response(r->request_id, *r->rooms));
    check(back.has_value() && back->rooms == r->rooms);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  fuzz_request(bytes);
  fuzz_response(bytes);
  return 0;
}
