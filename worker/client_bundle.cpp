// The socket.io-client bundle's answers (worker/client_bundle.h). The files themselves are in the
// generated client_bundle.cpp (build/generated/, from web/client_bundle.cpp.in).

#include "worker/client_bundle.h"

#include <fmt/format.h>

#include <array>

namespace chatd {

namespace {

// The paths served, as Node's socket.io names them (its CLIENT_FILES, less the ESM and msgpack
// builds). CMakeLists.txt's CHATD_CLIENT_FILES embeds the same four.
constexpr std::string_view k_prefix = "/socket.io/";
constexpr std::array<std::string_view, 4> k_names = {
    "socket.io.js", "socket.io.js.map", "socket.io.min.js", "socket.io.min.js.map"};

constexpr std::string_view k_not_embedded =
    "This chatd was built without the socket.io-client browser bundle: "
    "tests/node_modules/socket.io-client/dist/ was missing. Run `npm ci` in tests/ "
    "(tests/install-deps.sh does) and build again; CMake says which files it embedded.\n";

}  // namespace

std::optional<client_file_answer> client_file_request(const client_bundle& bundle,
                                                      std::string_view path, bool get,
                                                      std::string_view if_none_match) {
  if (!path.starts_with(k_prefix)) return std::nullopt;
  std::string_view name = path.substr(k_prefix.size());
  bool known = false;
  for (std::string_view n : k_names) known = known || n == name;
  if (!known) return std::nullopt;

  client_file_answer a;
  if (!get) {
    a.status = 405;
    a.type = "text/plain";
    a.body = "Method Not Allowed";
    a.headers = "Allow: GET, HEAD\r\n";
    return a;
  }
  const client_file* file = nullptr;
  for (const client_file& f : bundle.files) {
    if (f.name == name) file = &f;
  }
  if (file == nullptr) {
    a.status = 404;
    a.type = "text/plain; charset=utf-8";
    a.body = k_not_embedded;
    return a;
  }
  // Per RFC 7232 the ETag is quoted; socket.io compares If-None-Match as a whole, not as a list.
  std::string etag = fmt::format("\"{}\"", bundle.version);
  if (if_none_match == etag || (if_none_match.starts_with("W/") && if_none_match.substr(2) == etag)) {
    a.status = 304;
    return a;
  }
  a.type = name.ends_with(".map") ? "application/json; charset=utf-8"
                                  : "application/javascript; charset=utf-8";
  a.body = file->body;
  a.headers = fmt::format("Cache-Control: public, max-age=0\r\nETag: {}\r\n", etag);
  return a;
}

}  // namespace chatd
