#pragma once
// The socket.io-client browser bundle, served under /socket.io/ as Node's socket.io serves its
// client (socket.io.js, socket.io.min.js and their source maps): embedded at build time from the
// npm package tests/install-deps.sh installs (CMakeLists.txt, web/client_bundle.cpp.in), so the
// demo page loads the real client from chatd itself. A build without the package serves none.

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace chatd {

struct client_file {
  std::string_view name;  // "socket.io.min.js"
  std::string_view body;  // the file's bytes
};

struct client_bundle {
  std::string_view version;           // socket.io-client's package version: the ETag; "" if none
  std::span<const client_file> files;  // empty when the build found no bundle
};

// The bundle this build embedded (no files when it found none).
const client_bundle& embedded_client_bundle();

// What to answer for a client file. Node's socket.io: 200 with `Cache-Control: public,
// max-age=0`, `Content-Type: application/javascript` (a .map: application/json) `; charset=utf-8`
// and `ETag: "<version>"`; 304 without a body when If-None-Match is that ETag, strong or weak.
struct client_file_answer {
  int status = 200;           // 200, 304, 404 (not embedded in this build) or 405
  std::string_view type;      // Content-Type; empty for a 304
  std::string_view body;      // the file, or the 404/405 text; empty for a 304
  std::string headers;        // whole lines: Cache-Control and ETag (200), Allow (405)
};

// The answer for a request of `path` (the target without its query) with method GET or HEAD
// (`get`: false for any other method) and If-None-Match `if_none_match` ("" when absent), when
// `path` names a client file, found in `bundle` or not; nullopt for any other path.
std::optional<client_file_answer> client_file_request(const client_bundle& bundle,
                                                      std::string_view path, bool get,
                                                      std::string_view if_none_match);

}  // namespace chatd
