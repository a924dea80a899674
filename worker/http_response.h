#pragma once
// HTTP/1.1 responses as bytes: the few shapes chatd answers with.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace chatd {

std::string_view http_reason(int status);

// A complete response with Content-Length. `extra_headers` are whole lines, each ending "\r\n".
std::string http_response(int status, std::string_view content_type, std::string_view body,
                          bool keep_alive, std::string_view extra_headers = {});

// The head alone, for a HEAD (`content_length` the GET's) or a 304 (no body: `content_type`
// empty and `content_length` nullopt leave those lines out).
std::string http_head(int status, std::string_view content_type,
                      std::optional<size_t> content_length, bool keep_alive,
                      std::string_view extra_headers = {});

}  // namespace chatd
