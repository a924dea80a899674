#pragma once
// What a connection holds while it speaks HTTP: the bytes the parser has not consumed yet and the
// Beast parser of the request in progress. Freed once the connection upgrades to WebSocket, so
// an idle WebSocket client carries none of it.

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <optional>
#include <string>

namespace chatd {

struct http_state {
  std::string buf;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser;
  // Until the request head has been routed, its bytes stay in `buf` (the first `held` bytes are
  // parsed already): a request for another worker's session moves there whole.
  size_t held = 0;
  bool routed = false;

  bool idle() const { return buf.empty() && !parser; }
};

}  // namespace chatd
