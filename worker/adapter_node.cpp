// See adapter_node.h.

#include "worker/adapter_node.h"

#include "common/assert.h"
#include "common/js_date.h"
#include "common/log.h"
#include "common/socketio.h"
#include "common/ws_codec.h"
#include "worker/adapter_wire.h"
#include "worker/chat.h"
#include "worker/frame.h"
#include "worker/member.h"

#include <fmt/format.h>

#include <unistd.h>

#include <random>

namespace chatd {

namespace {

// Acks of a broadcast that named no timeout are waited for this long (a Node receiver keeps them
// until the socket goes; a bound keeps a worker's memory bounded).
constexpr uint64_t k_default_ack_wait_ms = 60000;
// How often pending requests and acks are checked for their deadline.
constexpr uint64_t k_sweep_ms = 20;

std::string_view type_name(wire::request_type t) {
  switch (t) {
    case wire::request_type::sockets: return "SOCKETS";
    case wire::request_type::all_rooms: return "ALL_ROOMS";
    case wire::request_type::remote_join: return "REMOTE_JOIN";
    case wire::request_type::remote_leave: return "REMOTE_LEAVE";
    case wire::request_type::remote_disconnect: return "REMOTE_DISCONNECT";
    case wire::request_type::remote_fetch: return "REMOTE_FETCH";
    case wire::request_type::server_side_emit: return "SERVER_SIDE_EMIT";
    case wire::request_type::broadcast: return "BROADCAST";
    case wire::request_type::broadcast_client_count: return "BROADCAST_CLIENT_COUNT";
    case wire::request_type::broadcast_ack: return "BROADCAST_ACK";
  }
  return "?";
}

const wire::room_selector& selector_of(const wire::bus_request& r) {
  static const wire::room_selector every;
  return r.opts ? *r.opts : every;
}

// The frames of `packet` sent with ack id `id`: 42<id>[...] or, with Buffers, 45<n>-<id>[...]
// and one binary frame per attachment. Framed once, shared by every recipient.
std::vector<shared_bytes> frames_with_ack(const wire::broadcast& packet, int64_t id) {
  std::vector<shared_bytes> frames;
  if (packet.attachments.empty()) {
    frames.push_back(make_text_frame({sio::encode(sio::packet_type::event, "/", packet.data_json, id)}));
    return frames;
  }
  frames.push_back(make_text_frame(
      {fmt::format("45{}-{}", packet.attachments.size(), id), packet.data_json}));
  for (const std::string& a : packet.attachments) {
    std::string f;
    ws::append_frame(f, ws::opcode::binary, a);
    frames.push_back(make_bytes(std::move(f)));
  }
  return frames;
}

// {event, args, pid} for serverSideEmit's data [event, ...args].
std::string server_side_emit_ack(std::string_view data) {
  std::optional<std::string_view> event = sio::first_element(data);
  std::string_view rest;
  if (event && !event->empty()) {
    rest = data.substr(static_cast<size_t>(event->data() + event->size() - data.data()));
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == ',' || rest.front() == '\n' ||
                             rest.front() == '\t' || rest.front() == '\r')) {
      rest.remove_prefix(1);
    }
    while (!rest.empty() && rest.back() != ']') rest.remove_suffix(1);
    if (!rest.empty()) rest.remove_suffix(1);  // the array's own ']'
  }
  return fmt::format(R"({{"event":{},"args":[{}],"pid":{}}})",
                     event && !event->empty() ? *event : "null", rest, getpid());
}

// An answer to r, its requestId filled in.
wire::bus_response answer_to(const wire::bus_request& r) {
  wire::bus_response a;
  a.request_id = r.request_id.value_or("");
  return a;
}

}  // namespace

adapter_node::adapter_node(uv_loop_t* loop, const config& cfg, adapter_wire& w, chat& local,
                           worker_stats& stats)
    : loop_(loop), cfg_(cfg), wire_(w), local_(local), stats_(stats), sweep_(loop, this) {}

adapter_node::~adapter_node() {
  *alive_ = false;
  local_.ack_sink = nullptr;
  local_.leave_sink = nullptr;
}

void adapter_node::start() {
  local_.ack_sink = [this](member& m, int64_t id, std::string_view args,
                           std::vector<std::string> parts) {
    on_client_ack(m, id, args, std::move(parts));
  };
  local_.leave_sink = [this](member& m) { on_leave(m); };
  if (!cfg_.adapter_serve_requests) return;
  wire_.serve([this](const expected<wire::bus_request>& r) { on_request(r); },
              [this](const expected<wire::bus_response>& r) { on_response(r); });
}

void adapter_node::bad_message(std::string_view what, std::string_view why) {
  stats_.adapter_bad_messages_total.fetch_add(1, std::memory_order_relaxed);
  bad_log_(uv_now(loop_), [&](uint64_t suppressed) {
    log::warn("adapter: dropped a malformed {}: {} ({} more suppressed)", what, why, suppressed);
  });
}

// --- answering ---------------------------------------------------------------------------------

void adapter_node::on_request(const expected<wire::bus_request>& r) {
  if (!r) return bad_message("request", r.error());
  const bool own = r->uid && *r->uid == wire_.uid();
  const bool applies_to_sender = r->type == wire::request_type::remote_join ||
                                 r->type == wire::request_type::remote_leave ||
                                 r->type == wire::request_type::remote_disconnect;
  if (own && !applies_to_sender) return;
  if (r->type == wire::request_type::broadcast_client_count ||
      r->type == wire::request_type::broadcast_ack) {
    return bad_message("request", "a response type on the request channel");
  }
  stats_.adapter_requests_total.fetch_add(1, std::memory_order_relaxed);
  log::debug("adapter: {} from {}", type_name(r->type), r->uid.value_or("emitter"));
  handle(*r);
}

void adapter_node::respond(const wire::bus_request& r, const wire::bus_response& answer) {
  wire_.respond(r.uid.value_or(""), r.type, answer);
}

wire::remote_socket adapter_node::describe(const member& m) {
  wire::remote_socket s;
  s.id.assign(m.id());
  const handshake_record& hs = m.handshake();
  s.hs.headers_json.assign(hs.headers_json());
  s.hs.time = js_date_string(hs.issued_ms);
  s.hs.address = hs.address;
  s.hs.xdomain = hs.xdomain;
  s.hs.secure = hs.secure;
  s.hs.issued = hs.issued_ms;
  if (!hs.url().empty()) s.hs.url = std::string(hs.url());
  s.hs.query_json.assign(m.query_json());
  s.hs.auth_json.assign(m.auth_json());
  s.rooms = chat::rooms_of(m);
  return s;
}

void adapter_node::handle(const wire::bus_request& r) {
  using t = wire::request_type;
  switch (r.type) {
    case t::sockets: {
      wire::bus_response a = answer_to(r);
      a.socket_ids.emplace();
      for (member* m : local_.select(r.rooms, {})) a.socket_ids->emplace_back(m->id());
      return respond(r, a);
    }
    case t::all_rooms: {
      wire::bus_response a = answer_to(r);
      a.rooms = local_.all_rooms();
      return respond(r, a);
    }
    case t::remote_join:
    case t::remote_leave: {
      const bool join = r.type == t::remote_join;
      // The 6.x single-socket form names one socket and one room, and wants {requestId} back.
      if (!r.opts) {
        member* m = local_.find(r.sid);
        if (m == nullptr) return;
        join ? local_.join(*m, r.room) : local_.leave(*m, r.room);
        return respond(r, answer_to(r));
      }
      // Selected first, changed after: joining or leaving while a room is walked would stop the
      // worker (rooms.h).
      for (member* m : local_.select(r.opts->rooms, r.opts->except)) {
        for (const std::string& room : r.rooms) join ? local_.join(*m, room) : local_.leave(*m, room);
      }
      return;
    }
    case t::remote_disconnect: {
      if (!r.opts) {
        member* m = local_.find(r.sid);
        if (m == nullptr) return;
        m->disconnect(r.close);
        return respond(r, answer_to(r));
      }
      for (member* m : local_.select(r.opts->rooms, r.opts->except)) m->disconnect(r.close);
      return;
    }
    case t::remote_fetch: {
      const wire::room_selector& sel = selector_of(r);
      wire::bus_response a = answer_to(r);
      a.sockets.emplace();
      for (member* m : local_.select(sel.rooms, sel.except)) a.sockets->push_back(describe(*m));
      return respond(r, a);
    }
    case t::server_side_emit: {
      stats_.adapter_server_side_emit_total.fetch_add(1, std::memory_order_relaxed);
      log::debug("adapter: serverSideEmit from {}: {:.200}", r.uid.value_or("emitter"), r.data.json);
      if (!r.request_id) return;
      // The handler's answer (what serverSideEmitWithAck resolves with, one per node): the
      // event it took and the worker process that logged it.
      wire::bus_response a = answer_to(r);
      a.type = t::server_side_emit;
      a.data.json = server_side_emit_ack(r.data.json);
      return respond(r, a);
    }
    case t::broadcast:
      return broadcast_with_ack(r);
    case t::broadcast_client_count:
    case t::broadcast_ack:
      return;
  }
}

void adapter_node::broadcast_with_ack(const wire::bus_request& r) {
  if (!r.request_id) return bad_message("request", "BROADCAST without a requestId");
  const wire::broadcast& packet = r.packet;
  std::vector<member*> to = local_.select(packet.rooms, packet.except);
  const int64_t id = next_ack_id_++;
  const size_t n = local_.send_to(to, frames_with_ack(packet, id));
  const std::string requester = r.uid.value_or("");
  wire::bus_response count = answer_to(r);
  count.type = wire::request_type::broadcast_client_count;
  count.client_count = n;
  respond(r, count);
  if (to.empty()) return;
  pending_ack& a = acks_[id];
  a.request_id = *r.request_id;
  a.requester_uid = requester;
  a.waiting.insert(to.begin(), to.end());
  const uint64_t wait = r.timeout_ms && *r.timeout_ms > 0 ? static_cast<uint64_t>(*r.timeout_ms) + 1000
                                                          : k_default_ack_wait_ms;
  a.deadline_ms = uv_now(loop_) + wait;
  arm_sweep();
}

void adapter_node::on_client_ack(member& m, int64_t ack_id, std::string_view args_json,
                                 std::vector<std::string> attachments) {
  auto it = acks_.find(ack_id);
  if (it == acks_.end() || it->second.waiting.erase(&m) == 0) return;  // not asked, or twice
  std::optional<std::string_view> first = sio::first_element(args_json);
  wire::bus_response a;
  a.request_id = it->second.request_id;
  a.type = wire::request_type::broadcast_ack;
  a.packet.json.assign(first ? *first : std::string_view());
  a.packet.attachments = std::move(attachments);
  wire_.respond(it->second.requester_uid, wire::request_type::broadcast, a);
  if (it->second.waiting.empty()) acks_.erase(it);
}

void adapter_node::on_leave(member& m) {
  // A socket that goes will not ack: stop waiting for it (and never mistake a new socket at the
  // same address for it).
  for (auto it = acks_.begin(); it != acks_.end();) {
    it->second.waiting.erase(&m);
    it = it->second.waiting.empty() ? acks_.erase(it) : std::next(it);
  }
}

// --- asking --------------------------------------------------------------------------------------

std::string adapter_node::new_request_id() {
  // Unique across the fleet: this worker's uid, a counter, and randomness against a restarted
  // worker that drew the same uid.
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{}-{}-{:x}", wire_.uid(), ++request_counter_, rng() & 0xffffff);
}

void adapter_node::fetch_sockets(wire::room_selector sel, std::function<void(fetch_result)> done) {
  fetch_result local;
  for (member* m : local_.select(sel.rooms, sel.except)) {
    local.sockets.push_back(describe(*m));
    local.node_of.push_back(wire_.uid());
  }
  const uint64_t started = uv_now(loop_);
  wire_.count_nodes([this, alive = std::weak_ptr<bool>(alive_), sel = std::move(sel),
                                 local = std::move(local), started,
                                 done = std::move(done)](std::optional<long long> n) mutable {
    if (alive.expired() || !*alive.lock()) return;
    local.nodes = n.value_or(0);
    if (!n || *n <= 1) {
      local.elapsed_ms = uv_now(loop_) - started;
      return done(std::move(local));
    }
    wire::bus_request r;
    r.type = wire::request_type::remote_fetch;
    r.uid = wire_.uid();
    r.request_id = new_request_id();
    r.opts = std::move(sel);
    if (!wire_.request(r)) {
      request_log_(uv_now(loop_), [](uint64_t suppressed) {
        log::warn("adapter: could not send a fetch request (Redis unavailable) ({} more request "
                  "problems suppressed)",
                  suppressed);
      });
      local.elapsed_ms = uv_now(loop_) - started;
      local.timed_out = true;
      return done(std::move(local));
    }
    wire_.flush();
    stats_.adapter_requests_sent_total.fetch_add(1, std::memory_order_relaxed);
    pending_request& p = requests_[*r.request_id];
    p.result = std::move(local);
    // serverCount() counts this worker too; every other node answers once.
    p.expected = *n - 1;
    p.started_ms = started;
    p.deadline_ms = uv_now(loop_) + cfg_.adapter_requests_timeout_ms;
    p.done = std::move(done);
    arm_sweep();
  });
}

void adapter_node::on_response(const expected<wire::bus_response>& r) {
  if (!r) return bad_message("response", r.error());
  auto it = requests_.find(r->request_id);
  if (it == requests_.end()) return;  // another node's request, or one that timed out
  pending_request& p = it->second;
  ++p.result.answered;
  if (r->sockets) {
    const std::string node = fmt::format("answer-{}", p.result.answered);
    for (const wire::remote_socket& s : *r->sockets) {
      p.result.sockets.push_back(s);
      p.result.node_of.push_back(node);
    }
  }
  if (p.result.answered >= p.expected) finish(it->first, false);
}

void adapter_node::finish(const std::string& request_id, bool timed_out) {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return;
  pending_request p = std::move(it->second);
  requests_.erase(it);
  p.result.timed_out = timed_out;
  p.result.elapsed_ms = uv_now(loop_) - p.started_ms;
  if (timed_out) {
    stats_.adapter_request_timeouts_total.fetch_add(1, std::memory_order_relaxed);
    request_log_(uv_now(loop_), [&](uint64_t suppressed) {
      log::warn("adapter: {} of {} nodes did not answer a fetch within {} ms ({} more request "
                "problems suppressed)",
                p.expected - p.result.answered, p.expected, cfg_.adapter_requests_timeout_ms,
                suppressed);
    });
  }
  p.done(std::move(p.result));
}

void adapter_node::arm_sweep() {
  if (sweeping_) return;
  sweeping_ = true;
  sweep_.start(&adapter_node::on_sweep, k_sweep_ms, k_sweep_ms);
}

void adapter_node::on_sweep(uv_timer_t* t) noexcept {
  auto* self = static_cast<adapter_node*>(t->data);
  const uint64_t now = uv_now(self->loop_);
  std::vector<std::string> late;
  for (const auto& [id, p] : self->requests_) {
    if (now >= p.deadline_ms) late.push_back(id);
  }
  for (const std::string& id : late) self->finish(id, true);
  for (auto it = self->acks_.begin(); it != self->acks_.end();) {
    it = now >= it->second.deadline_ms ? self->acks_.erase(it) : std::next(it);
  }
  if (self->requests_.empty() && self->acks_.empty()) {
    uv_timer_stop(t);
    self->sweeping_ = false;
  }
}

}  // namespace chatd
