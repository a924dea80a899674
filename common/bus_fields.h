#pragma once
// Field readers and the JSON re-printer shared by the bus's object-shaped messages: the classic
// adapter's request channel (bus_request.h) and the sharded adapter's messages (sharded_wire.h).
// Both arrive as JSON (first byte '{') or msgpack and are read from one msgpack object, so a field
// reads the same whichever way it came. Internal to common/; nothing here throws.

#include "common/bus_msgpack.h"
#include "common/bus_request.h"
#include "common/expected.h"

#include <msgpack.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatd::wire::detail {

// --- reading ----------------------------------------------------------------------------------
// Each returns false with `err` naming the field (`what`) when it is missing or mistyped.

// The message as one msgpack map: JSON is converted first into `converted`, which the returned
// handle points into and must outlive it. `envelope_depth` is how deep the carried values sit.
expected<msgpack::object_handle> unpack_message(std::string_view bytes, std::string& converted,
                                                size_t envelope_depth);

// Ids and room names are matched byte for byte: ill-formed UTF-8 is refused, not repaired.
bool read_string(const msgpack::object* o, std::string& out, std::string& err,
                 std::string_view what);
bool read_optional_string(const msgpack::object* o, std::optional<std::string>& out,
                          std::string& err, std::string_view what);
// False with `err` when one of `ids` is ill-formed UTF-8.
bool check_ids_utf8(const std::vector<std::string>& ids, std::string& err, std::string_view what);
// A room list (numbers are rooms too), checked UTF-8; absent is empty.
bool read_id_list(const msgpack::object* o, std::vector<std::string>& out, std::string& err,
                  std::string_view what);
// An opaque value as JSON text; absent is "" (undefined), null is "null". Buffers become
// placeholders plus `*attachments`; with no `attachments` they are an error.
bool read_json(const msgpack::object* o, std::string& out, std::vector<std::string>* attachments,
               std::string& err, std::string_view what);
// A SERVER_SIDE_EMIT's argument list, [event, ...args] with a string event: what the receiver
// hands its listeners. Buffers in the arguments become placeholders plus out.attachments.
bool read_event_args(const msgpack::object* o, json_value& out, std::string& err,
                     std::string_view what);
// opts {rooms, except}; opts must be an object.
bool read_selector(const msgpack::object* o, room_selector& out, std::string& err);
// Absent is false.
bool read_bool(const msgpack::object* o, bool& out, std::string& err, std::string_view what);
bool read_number(const msgpack::object* o, double& out);
bool read_handshake(const msgpack::object* o, handshake& h, std::string& err);
// {id, handshake, rooms, data}; Buffers in data only when `binary_data` (into data_attachments).
bool read_remote_socket(const msgpack::object& o, remote_socket& s, bool binary_data,
                        std::string& err);
// opts.flags.timeout of the map `opts`, when it is there.
bool read_timeout(const msgpack::object& opts, std::optional<double>& out, std::string& err);

// --- writing ----------------------------------------------------------------------------------

// JSON.stringify(JSON.parse(text)); refused with the field's name when it is not JSON.
bool append_canonical_json(std::string& out, std::string_view text, std::string& err,
                           std::string_view what);

}  // namespace chatd::wire::detail
