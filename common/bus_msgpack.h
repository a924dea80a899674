#pragma once
// The pieces of the bus codecs that both message families share: broadcasts (bus_wire.h) and the
// request/response channel (bus_request.h). Internal to common/: one msgpack reader with the
// input-size bounds, one notepack-value-to-JSON renderer, one JSON-to-notepack writer, so both
// families see JSON and msgpack exactly the same way. Sans-IO; nothing here throws.

#include "common/bus_wire.h"
#include "common/expected.h"
#include "common/msgpack_writer.h"

#include <msgpack.hpp>
#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatd::wire::detail {

// --- reading (bus_decode.cpp) -----------------------------------------------------------------

// One whole msgpack value from `bytes`: element counts are bounded by the input size and nesting
// by the renderer's depth limit, so a forged length header cannot reserve gigabytes; trailing
// bytes, truncation and malformed input are errors with a reason.
// `envelope_depth` is how many containers enclose the carried values (2 for [uid, {data}, opts]).
expected<msgpack::object_handle> unpack_bounded(std::string_view bytes, size_t envelope_depth = 2);

// Appends what JSON.stringify would print for notepack's decoding of `o`; each bin (a Buffer)
// becomes a socket.io-parser placeholder and is appended to `attachments`, in socket.io-parser's
// numbering order. False with `err` set for extension types and too-deep nesting.
bool render_value_json(std::string& out, const msgpack::object& o, std::string& err,
                       std::vector<std::string>& attachments);

// The value of a map's string key `name` (the last one wins, as with JS assignment); nullptr
// when `map` has no such key. `map` must be a map.
const msgpack::object* field(const msgpack::object& map, std::string_view name);

// Missing, nil or `undefined`: what JavaScript reads as "not there".
bool absent(const msgpack::object* o);

// opts.rooms / opts.except as `new Set(x)` reads them: absent is empty; numbers are rooms too.
bool read_room_list(const msgpack::object* o, std::vector<std::string>& out, std::string& err,
                    std::string_view what);

// A broadcast's packet and opts (the [uid, packet, opts] message, or a BROADCAST request's
// fields): the checks and fields of decode_broadcast.
expected<broadcast> broadcast_of(const msgpack::object& uid, const msgpack::object& packet,
                                 const msgpack::object& opts);

void append_decimal(std::string& out, uint64_t v);
// Number::toString of a finite double (JSON.stringify's number); "null" for NaN and infinities.
void append_js_number(std::string& out, double d);

// --- writing (bus_encode.cpp) -----------------------------------------------------------------

// Parses JSON text as JSON.parse accepts it (integers beyond 64 bits, lone surrogates repaired
// first); the DOM lives in this thread's parser until its next parse.
expected<simdjson::dom::element> parse_js_json(std::string_view text);

// notepack's encoding of the JSON value `e`; placeholders become bins of `attachments` when
// there are any.
bool write_json_value(msgpack_writer& w, simdjson::dom::element e, std::string& err,
                      const std::vector<std::string>& attachments);

// notepack.encode(JSON.parse(text)), with no attachments.
expected<std::string> json_to_msgpack(std::string_view text);

// A broadcast's packet {type, data, nsp} and opts {rooms, except, flags} maps, for the plain
// message and the BROADCAST request; flags.timeout only when given. False with `err` set when
// data_json is not a JSON array or a list is too long for msgpack.
bool write_packet(msgpack_writer& w, const broadcast& b, std::string& err);
bool write_opts(msgpack_writer& w, const broadcast& b, std::optional<double> timeout_ms,
                std::string& err);

}  // namespace chatd::wire::detail
