// The socket.io-client files' answers (worker/client_bundle.h) as Node's socket.io 4.8 gives them
// (its Server.serve): a bundle of two stand-in files, an empty one for a build without the
// package, and the bundle this build embedded.

#include <doctest/doctest.h>

#include <array>
#include <string>

#include "worker/client_bundle.h"

using chatd::client_bundle;
using chatd::client_file;
using chatd::client_file_request;

namespace {

const std::array<client_file, 2> k_files{client_file{"socket.io.min.js", "/* the client */"},
                                         client_file{"socket.io.min.js.map", R"({"version":3})"}};
const client_bundle k_bundle{"4.8.4", k_files};
const client_bundle k_none{};

}  // namespace

TEST_CASE("client bundle: a file is served with socket.io's type, cache header and ETag") {
  auto a = client_file_request(k_bundle, "/socket.io/socket.io.min.js", true, "");
  REQUIRE(a.has_value());
  CHECK(a->status == 200);
  CHECK(a->type == "application/javascript; charset=utf-8");
  CHECK(a->body == "/* the client */");
  CHECK(a->headers == "Cache-Control: public, max-age=0\r\nETag: \"4.8.4\"\r\n");
}

TEST_CASE("client bundle: a source map is application/json") {
  auto a = client_file_request(k_bundle, "/socket.io/socket.io.min.js.map", true, "");
  REQUIRE(a.has_value());
  CHECK(a->status == 200);
  CHECK(a->type == "application/json; charset=utf-8");
  CHECK(a->body == R"({"version":3})");
}

TEST_CASE("client bundle: If-None-Match with the version, strong or weak, is a 304 without a body") {
  for (std::string_view etag : {"\"4.8.4\"", "W/\"4.8.4\""}) {
    CAPTURE(etag);
    auto a = client_file_request(k_bundle, "/socket.io/socket.io.min.js", true, etag);
    REQUIRE(a.has_value());
    CHECK(a->status == 304);
    CHECK(a->type.empty());
    CHECK(a->body.empty());
    CHECK(a->headers.empty());
  }
}

TEST_CASE("client bundle: another ETag, an unquoted version or a list gets the file") {
  for (std::string_view etag : {"\"4.8.3\"", "4.8.4", "\"x\", \"4.8.4\"", "*"}) {
    CAPTURE(etag);
    auto a = client_file_request(k_bundle, "/socket.io/socket.io.min.js", true, etag);
    REQUIRE(a.has_value());
    CHECK(a->status == 200);
  }
}

TEST_CASE("client bundle: a build without the package answers 404 saying why") {
  auto a = client_file_request(k_none, "/socket.io/socket.io.min.js", true, "");
  REQUIRE(a.has_value());
  CHECK(a->status == 404);
  CHECK(a->body.find("without the socket.io-client browser bundle") != std::string_view::npos);
  CHECK(a->body.find("npm ci") != std::string_view::npos);
}

TEST_CASE("client bundle: a client file this bundle lacks is a 404 too") {
  auto a = client_file_request(k_bundle, "/socket.io/socket.io.js", true, "");
  REQUIRE(a.has_value());
  CHECK(a->status == 404);
}

TEST_CASE("client bundle: another method than GET or HEAD is refused with 405") {
  auto a = client_file_request(k_bundle, "/socket.io/socket.io.min.js", false, "");
  REQUIRE(a.has_value());
  CHECK(a->status == 405);
  CHECK(a->headers == "Allow: GET, HEAD\r\n");
}

TEST_CASE("client bundle: other paths are not its business") {
  for (std::string_view path : {"/socket.io/", "/socket.io", "/socket.io/socket.io.esm.min.js",
                                "/socket.io.min.js", "/socket.io/socket.io.min.js/",
                                "/x/socket.io/socket.io.min.js"}) {
    CAPTURE(path);
    CHECK_FALSE(client_file_request(k_bundle, path, true, "").has_value());
  }
}

TEST_CASE("client bundle: the embedded bundle has a version when it has files") {
  const client_bundle& b = chatd::embedded_client_bundle();
  CHECK(b.files.empty() == b.version.empty());
  for (const client_file& f : b.files) {
    CAPTURE(f.name);
    CHECK(f.body.size() > 100);
    CHECK(client_file_request(b, "/socket.io/" + std::string(f.name), true, "")->status == 200);
  }
}
