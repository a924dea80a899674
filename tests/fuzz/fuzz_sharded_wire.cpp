// libFuzzer target for the sharded adapter's wire codec (common/sharded_wire.h): it decodes
// whatever any publisher SPUBLISHes on "<prefix>#<nsp>#...". Checks, beyond sanitizers:
// - a refusal always says why;
// - a message decode() accepts and encode() can send (its carried JSON is valid, a requestId
//   where one is needed) decodes back to the same type, ids, selection and carried values, and
//   encoding that again gives the same bytes (encode is a fixed point after one round);
// - publish_channel names a channel under the namespace's.
// Written against the public header only.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/sharded_wire.h"

namespace sharded = chatd::wire::sharded;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool same_sockets(const sharded::message& a, const sharded::message& b) {
  if (a.sockets.size() != b.sockets.size()) return false;
  for (size_t i = 0; i < a.sockets.size(); ++i) {
    const auto& x = a.sockets[i];
    const auto& y = b.sockets[i];
    if (x.id != y.id || x.rooms != y.rooms || x.data_json != y.data_json ||
        x.data_attachments != y.data_attachments || x.hs.query_json != y.hs.query_json ||
        x.hs.issued != y.hs.issued || x.hs.url != y.hs.url) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto m = sharded::decode(bytes);
  if (!m) {
    check(!m.error().empty());
    return 0;
  }
  const std::string channel = sharded::publish_channel("socket.io", *m);
  check(channel.rfind(sharded::namespace_channel("socket.io", m->nsp), 0) == 0);
  auto again = sharded::encode(*m);
  if (!again) {
    check(!again.error().empty());
    return 0;
  }
  auto back = sharded::decode(*again);
  check(back.has_value());
  check(back->type == m->type && back->uid == m->uid && back->nsp == m->nsp);
  // A NaN or infinite timeout goes out as JSON.stringify writes it, null, which reads as none.
  const bool finite_timeout = !m->timeout_ms || std::isfinite(*m->timeout_ms);
  check(back->request_id == m->request_id);
  check(!finite_timeout || back->timeout_ms == m->timeout_ms);
  check(back->opts.rooms == m->opts.rooms && back->opts.except == m->opts.except);
  check(back->rooms == m->rooms && back->close == m->close && back->client_count == m->client_count);
  check(back->data.json == m->data.json && back->data.attachments == m->data.attachments);
  check(back->packet.data_json == m->packet.data_json &&
        back->packet.attachments == m->packet.attachments && back->packet.rooms == m->packet.rooms &&
        back->packet.except == m->packet.except &&
        back->packet.volatile_flag == m->packet.volatile_flag);
  check(same_sockets(*m, *back));
  auto third = sharded::encode(*back);
  check(third.has_value() && (!finite_timeout || *third == *again));
  return 0;
}
