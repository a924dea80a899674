#pragma once
// Routes one parsed HTTP request of a connection (worker/http_router.cpp says where to).

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <optional>

namespace chatd {

class connection;
class server;

using request = boost::beast::http::request<boost::beast::http::string_body>;

// Answers `req` on `c`, or hands it to its session (a polling GET is held, a POST fed, a
// WebSocket handshake completed).
void route_request(connection& c, request& req);

// The slot owning the session a request names, when it is not this worker's and can be reached
// by a hand-over; nullopt otherwise (the request is served here).
std::optional<unsigned> foreign_slot(server& srv, const request& req);

}  // namespace chatd
