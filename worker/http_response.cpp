// HTTP/1.1 response bytes.

#include "worker/http_response.h"

#include <fmt/format.h>

namespace chatd {

std::string_view http_reason(int status) {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

std::string http_head(int status, std::string_view content_type,
                      std::optional<size_t> content_length, bool keep_alive,
                      std::string_view extra_headers) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", status, http_reason(status));
  if (!content_type.empty()) out += fmt::format("Content-Type: {}\r\n", content_type);
  if (content_length) out += fmt::format("Content-Length: {}\r\n", *content_length);
  out += fmt::format("Connection: {}\r\n{}\r\n", keep_alive ? "keep-alive" : "close",
                     extra_headers);
  return out;
}

std::string http_response(int status, std::string_view content_type, std::string_view body,
                          bool keep_alive, std::string_view extra_headers) {
  std::string out = http_head(status, content_type, body.size(), keep_alive, extra_headers);
  out.append(body);
  return out;
}

}  // namespace chatd
