#pragma once
// The Redis layout of history and connection state recovery (README "History and connection
// state recovery"), sans-IO: what a recorded broadcast becomes (a stream entry and the pub/sub
// message that carries its id), what an entry read back becomes (a packet to replay, or
// nothing), stream ids, and the session record kept under "<key>:session:<pid>".
//
// Entries follow @socket.io/redis-streams-adapter's (fields uid, nsp, type "3" = BROADCAST,
// data = JSON {packet, opts}; the offset is not in the entry: a reader appends the entry id),
// so a Node server on that adapter can read chatd's stream. The session record is that
// adapter's too: base64 of msgpack {sid, pid, rooms, data}.

#include "common/bus_wire.h"
#include "common/expected.h"

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatd::recovery_wire {

// ---------------------------------------------------------------------------------------------
// Stream ids ("<ms>-<seq>"): the offsets of connection state recovery.

struct stream_id {
  uint64_t ms = 0;
  uint64_t seq = 0;
  auto operator<=>(const stream_id&) const = default;
};
// Decimal "<ms>-<seq>" exactly (what Redis generates); nullopt for anything else, so a string a
// client made up is never sent to Redis as a range bound.
std::optional<stream_id> parse_stream_id(std::string_view text);
std::string to_string(stream_id id);

// ---------------------------------------------------------------------------------------------
// Keys. `key` is redis.key (the adapter's prefix; the streams adapter's default stream name is
// the same "socket.io").

// The namespace's stream: every recorded broadcast, in the order every node delivers them.
std::string namespace_stream_key(std::string_view key);
// One room's `chat` history: "<key>#<nsp>#<room>#history".
std::string history_stream_key(std::string_view key, std::string_view nsp, std::string_view room);
// "<key>:session:<pid>" (the streams adapter's sessionKeyPrefix set to "<key>:session:").
std::string session_key(std::string_view key, std::string_view pid);

// ---------------------------------------------------------------------------------------------
// Recording one broadcast.

struct recorded_broadcast {
  // The entry's `data` field: {"packet":{"type":2,"data":[...],"nsp":"/"},"opts":{"rooms":[...],
  // "except":[...],"flags":{}}}, without the offset.
  std::string entry_data;
  // The adapter's pub/sub message [uid, {type, data, nsp}, opts] cut where the entry id goes
  // (the last element of packet.data, whose array header already counts it): the publish
  // script sends head + msgpack_str(id) + tail.
  std::string message_head;
  std::string message_tail;
};
// b must be a plain EVENT (type 2, no attachments, no ack) whose data_json is a JSON array.
expected<recorded_broadcast> record_broadcast(const wire::broadcast& b);
// What the script publishes for entry id `id`: head + the id as a msgpack string + tail.
std::string splice_offset(const recorded_broadcast& r, std::string_view id);

// ---------------------------------------------------------------------------------------------
// Reading entries back.

struct replay_event {
  std::string data_json;             // packet.data, without the offset
  std::vector<std::string> rooms;    // opts.rooms
  std::vector<std::string> except;   // opts.except
};
// One entry's fields. nullopt (no error) for an entry that is not a plain EVENT broadcast of
// namespace `nsp` (another namespace, a heartbeat, an ack-expecting or volatile broadcast, a
// binary one): a replay skips it. An error for a broadcast entry that cannot be read.
expected<std::optional<replay_event>> decode_entry(std::string_view nsp_field,
                                                   std::string_view type_field,
                                                   std::string_view data_field,
                                                   std::string_view nsp);
// socket.io's rule for a missed packet: it names no room or one of the session's, and none of
// the session's rooms (its own id among them) is excluded.
bool should_include(const std::vector<std::string>& session_rooms, const replay_event& e);
// `data_json` (a JSON array) with `id` appended as its last element: the packet as delivered.
std::string with_offset(std::string_view data_json, std::string_view id);
// The offset a delivered packet's data carries: its last element when that is a string holding
// a stream id; nullopt otherwise (a broadcast from a node that does not record).
std::optional<stream_id> offset_of(std::string_view data_json);

// ---------------------------------------------------------------------------------------------
// The session record.

struct session_record {
  std::string sid;
  std::string pid;
  std::vector<std::string> rooms;  // as socket.rooms: its own id first
};
std::string encode_session(const session_record& s);
// Errors say what is wrong; a record of another implementation is read if it has sid, pid and
// rooms (strings), whatever else it holds.
expected<session_record> decode_session(std::string_view text);

}  // namespace chatd::recovery_wire
