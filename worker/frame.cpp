// Shared outgoing frames: built once, queued on every recipient.

#include "worker/frame.h"

#include <cstring>

namespace chatd {

shared_bytes make_text_frame(std::initializer_list<std::string_view> parts) {
  size_t len = 0;
  for (std::string_view p : parts) len += p.size();
  auto out = std::make_shared<std::string>();
  out->resize(ws::header_size(len) + len);
  char* w = out->data() + ws::write_header(out->data(), ws::opcode::text, len);
  for (std::string_view p : parts) {
    if (!p.empty()) {
      std::memcpy(w, p.data(), p.size());
      w += p.size();
    }
  }
  return out;
}

shared_bytes make_bytes(std::string bytes) {
  return std::make_shared<const std::string>(std::move(bytes));
}

}  // namespace chatd
