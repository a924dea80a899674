// Connection state recovery: session records and restores (see recovery.h).

#include "worker/recovery.h"

#include "common/base64.h"
#include "common/engineio.h"
#include "common/json_member.h"
#include "common/log.h"
#include "common/socketio.h"
#include "worker/redis_command.h"

#include <algorithm>
#include <cstring>

namespace chatd {
namespace {

// Entries per read of a replay: a few hundred KiB of reply at chat-sized messages.
constexpr size_t k_replay_batch = 512;
constexpr std::string_view k_replay_batch_text = "512";

constexpr std::string_view k_read_script =
    "if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return false end\n"
    "return redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])";

// A sid or pid as socket.io makes them (base64id: 20 URL-safe characters); anything else in a
// record or a CONNECT is not ours to put in a reply.
bool valid_id(std::string_view s) {
  return s.size() == 20 && std::all_of(s.begin(), s.end(), [](char c) { return base64::url_value(c) >= 0; });
}

std::string_view text(const redisReply* r) { return {r->str, r->len}; }

// The field `name` of an entry's [f1, v1, f2, v2, ...] list; empty when absent.
std::string_view entry_field(const redisReply* fields, std::string_view name) {
  for (size_t i = 0; i + 1 < fields->elements; i += 2) {
    const redisReply* f = fields->element[i];
    const redisReply* v = fields->element[i + 1];
    if (f->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING && text(f) == name) return text(v);
  }
  return {};
}

void ignore_reply(const redisReply*) {}

}  // namespace

const std::string& recovery::read_script() {
  static const std::string s(k_read_script);
  return s;
}

recovery::recovery(uv_loop_t* loop, redis_link& commands, settings s, hooks h)
    : loop_(loop),
      link_(commands),
      s_(std::move(s)),
      h_(std::move(h)),
      stream_key_(recovery_wire::namespace_stream_key(s_.key)),
      record_ttl_(std::to_string(uint64_t{s_.max_disconnection_ms} + s_.max_disconnection_ms / 2)),
      disconnect_ttl_(std::to_string(s_.max_disconnection_ms)),
      refresh_(loop, this) {
  const uint64_t interval = std::max<uint64_t>(s_.max_disconnection_ms / 2, 500);
  refresh_.start(on_refresh, interval, interval);
}

recovery::restore_state* recovery::find(member* m, uint64_t token) {
  auto it = restoring_.find(m);
  return it == restoring_.end() || it->second.token != token ? nullptr : &it->second;
}

std::string recovery::new_pid() { return eio::make_sid(s_.slot); }

// ------------------------------------------------------------------------- the CONNECT

bool recovery::begin_restore(member& m) {
  if (!link_.ready()) return false;
  json_string_member pid = json_get_string_member(m.auth_json(), "pid");
  json_string_member offset = json_get_string_member(m.auth_json(), "offset");
  if (pid.state != json_member_state::string || offset.state != json_member_state::string) return false;
  std::optional<recovery_wire::stream_id> at = recovery_wire::parse_stream_id(offset.value);
  if (!valid_id(pid.value) || !at) return false;
  const uint64_t token = ++next_token_;
  restore_state& st = restoring_[&m];
  st = restore_state{};
  st.token = token;
  std::memcpy(st.pid.data(), pid.value.data(), st.pid.size());
  st.cursor = *at;
  st.client_offset = *at;
  member* mp = &m;
  // Pipelined: GETDEL's answer always comes first.
  redis_command(link_, {"GETDEL", recovery_wire::session_key(s_.key, pid.value)},
                [this, mp, token](const redisReply* r) {
                  restore_state* st = find(mp, token);
                  if (st == nullptr) return;
                  st->record_answered = true;
                  if (r != nullptr && r->type == REDIS_REPLY_STRING) st->record_text.assign(r->str, r->len);
                });
  redis_command(link_, {"XRANGE", stream_key_, offset.value, offset.value},
                [this, mp, token](const redisReply* r) {
                  on_offset_checked(mp, token, r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements > 0);
                });
  return true;
}

void recovery::on_offset_checked(member* m, uint64_t token, bool offset_exists) {
  restore_state* st = find(m, token);
  if (st == nullptr) return;
  std::optional<recovery_wire::session_record> rec;
  if (offset_exists && st->record_answered && !st->record_text.empty()) {
    auto decoded = recovery_wire::decode_session(st->record_text);
    if (decoded && decoded->pid == std::string_view(st->pid.data(), st->pid.size()) &&
        valid_id(decoded->sid)) {
      rec = std::move(*decoded);
    } else if (!decoded) {
      log::debug("recovery: unreadable session record: {}", decoded.error());
    }
  }
  if (!rec) {
    // Unknown or expired pid, or the offset trimmed: a fresh session (recovered false).
    log::debug("recovery: restore refused ({})", offset_exists ? "no session" : "offset gone");
    restoring_.erase(m);
    h_.proceed(*m, nullptr);
    return;
  }
  // An old socket of this worker still holding the sid (its connection not noticed gone yet)
  // leaves first: one sid, one socket. Element references survive its erase from our maps.
  if (h_.evict) h_.evict(rec->sid);
  if (!m->restore_id(rec->sid)) {
    restoring_.erase(m);
    h_.proceed(*m, nullptr);
    return;
  }
  st->rooms = rec->rooms;
  st->proceeded = true;
  m->held_ = true;  // from the first room joined on, live deliveries wait for the replay
  h_.proceed(*m, &*rec);
}

void recovery::accept(member& m) {
  auto it = restoring_.find(&m);
  if (it == restoring_.end()) {
    std::string pid = new_pid();
    m.accept_connect(pid);
    pid_text p{};
    std::memcpy(p.data(), pid.data(), p.size());
    go_live(m, p);
    return;
  }
  read_batch(m, it->second);
}

// ------------------------------------------------------------------------- the replay

void recovery::read_batch(member& m, restore_state& st) {
  member* mp = &m;
  const uint64_t token = st.token;
  redis_command(link_, {"EVAL", read_script(), "1", stream_key_, recovery_wire::to_string(st.cursor),
                        k_replay_batch_text},
                [this, mp, token](const redisReply* r) { on_batch(mp, token, r); });
}

void recovery::on_batch(member* m, uint64_t token, const redisReply* reply) {
  restore_state* st = find(m, token);
  if (st == nullptr) return;
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) {
    log::debug("recovery: cannot replay for {}: {}", m->id(),
               reply == nullptr ? "Redis lost"
               : reply->type == REDIS_REPLY_ERROR ? std::string_view(reply->str, reply->len)
                                                  : "the stream was trimmed past the cursor");
    return finish(*m, *st, false);
  }
  for (size_t i = 0; i < reply->elements; ++i) {
    const redisReply* e = reply->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[1]->type != REDIS_REPLY_ARRAY) {
      continue;
    }
    std::string_view id_text = text(e->element[0]);
    std::optional<recovery_wire::stream_id> id = recovery_wire::parse_stream_id(id_text);
    if (!id) continue;
    st->cursor = *id;
    const redisReply* fields = e->element[1];
    auto event = recovery_wire::decode_entry(entry_field(fields, "nsp"), entry_field(fields, "type"),
                                             entry_field(fields, "data"), m->nsp());
    if (!event) {
      log::debug("recovery: entry {} skipped: {}", id_text, event.error());
      continue;
    }
    if (!event->has_value() || !recovery_wire::should_include(st->rooms, **event)) continue;
    st->replay.push_back(make_text_frame(
        {sio::encode(sio::packet_type::event, m->nsp(), recovery_wire::with_offset((*event)->data_json, id_text))}));
  }
  if (reply->elements >= k_replay_batch) return read_batch(*m, *st);
  finish(*m, *st, true);
}

void recovery::finish(member& m, restore_state& st, bool restored) {
  pid_text pid = st.pid;
  if (!restored) std::memcpy(pid.data(), new_pid().data(), pid.size());
  m.accept_connect(std::string_view(pid.data(), pid.size()));
  if (restored) {
    for (const shared_bytes& f : st.replay) m.send(f);
  }
  // Held deliveries at or below the last entry read were in the replay (or not for this
  // socket); without a replay, those at or below the client's own offset it has already.
  const recovery_wire::stream_id seen = restored ? st.cursor : st.client_offset;
  for (const restore_state::held& h : st.held_frames) {
    if (h.offset && *h.offset <= seen) continue;
    if (!m.send(h.frames.front())) continue;
    for (size_t i = 1; i < h.frames.size(); ++i) m.send(h.frames[i]);
  }
  // The pub/sub copy of an entry the replay read may still be on its way (the read answered on
  // the publisher link, the subscriber link not read yet): until a live delivery past `seen`
  // arrives, those at or below it are dropped. Pub/sub order is id order, so after that first
  // one nothing older can come.
  catching_up_[&m] = seen;
  restoring_.erase(&m);
  go_live(m, pid);
}

void recovery::hold(member& m, std::optional<recovery_wire::stream_id> offset, std::vector<shared_bytes> frames) {
  if (auto it = restoring_.find(&m); it != restoring_.end()) {
    it->second.held_frames.push_back({offset, std::move(frames)});
    return;
  }
  auto it = catching_up_.find(&m);
  if (it == catching_up_.end()) {  // cannot happen: held_ is ours
    m.held_ = false;
  } else if (offset) {
    if (*offset <= it->second) return;  // the replay had it
    m.held_ = false;
    catching_up_.erase(it);
  }
  if (!m.send(frames.front())) return;
  for (size_t i = 1; i < frames.size(); ++i) m.send(frames[i]);
}

// ------------------------------------------------------------------------- records

void recovery::go_live(member& m, const pid_text& pid) {
  live_[&m] = pid;
  save_record(m, std::string_view(pid.data(), pid.size()));
}

void recovery::save_record(const member& m, std::string_view pid) {
  recovery_wire::session_record rec{std::string(m.id()), std::string(pid), h_.rooms_of(m)};
  redis_command(link_, {"SET", recovery_wire::session_key(s_.key, pid), recovery_wire::encode_session(rec),
                        "PX", record_ttl_},
                ignore_reply);
}

void recovery::rooms_changed(const member& m) {
  auto it = live_.find(const_cast<member*>(&m));
  if (it != live_.end()) save_record(m, std::string_view(it->second.data(), it->second.size()));
}

bool recovery::on_disconnect(member& m) {
  if (auto it = restoring_.find(&m); it != restoring_.end()) {
    restore_state& st = it->second;
    const bool proceeded = st.proceeded;
    // The record was taken for this restore: put it back, so the client's next try can restore.
    if (!st.record_text.empty()) {
      redis_command(link_, {"SET", recovery_wire::session_key(s_.key, std::string_view(st.pid.data(), st.pid.size())),
                            st.record_text, "PX", disconnect_ttl_},
                    ignore_reply);
    }
    m.held_ = false;
    restoring_.erase(it);
    return !proceeded;
  }
  catching_up_.erase(&m);
  if (auto it = live_.find(&m); it != live_.end()) {
    redis_command(link_, {"PEXPIRE", recovery_wire::session_key(s_.key, std::string_view(it->second.data(), it->second.size())),
                          disconnect_ttl_},
                  ignore_reply);
    live_.erase(it);
  }
  return false;
}

void recovery::on_refresh(uv_timer_t* t) noexcept {
  auto* self = static_cast<recovery*>(t->data);
  if (!self->link_.ready()) return;
  // Written again rather than PEXPIREd: a record lost meanwhile (a Redis restarted, an outage
  // longer than its expiry) comes back too.
  for (const auto& [m, pid] : self->live_) self->save_record(*m, std::string_view(pid.data(), pid.size()));
}

}  // namespace chatd
