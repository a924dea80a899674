#pragma once
// JSON that JSON.parse accepts and simdjson 3.0 refuses. JSON.stringify writes two such things:
// integers beyond 64 bits (1e20 prints as "100000000000000000000", -3e19 as
// "-30000000000000000000") and lone surrogates as "\ud800" escapes (a string cut inside an
// emoji). A Node peer or client sends them in perfectly ordinary messages, so every reader of
// JSON text that came from outside retries with this repair when simdjson has refused the text.

#include <string>
#include <string_view>

namespace chatd {

// Rewrites integers beyond 64 bits as decimals ("1e20" digits + ".0": the same double JSON.parse
// makes) and lone surrogate escapes as U+FFFD (what Node's Buffer.write makes of them). Anything
// else is copied unchanged, so text simdjson still refuses afterwards is really not JSON.
std::string js_compatible_json(std::string_view s);

}  // namespace chatd
