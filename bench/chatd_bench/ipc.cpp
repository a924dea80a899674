// Framing of the messages between chatd-bench's processes.

#include "bench/chatd_bench/ipc.h"

#include "bench/chatd_bench/wire_bytes.h"

namespace chatd::bench::ipc {

std::string encode(kind type, std::string_view body) {
  std::string out;
  out.reserve(16 + body.size());
  put_u64(out, static_cast<uint64_t>(type));
  put_bytes(out, body);
  return out;
}

std::optional<message> message_reader::next() {
  if (corrupt_) return std::nullopt;
  std::string_view in(buffer_);
  in.remove_prefix(offset_);
  std::string_view cur = in;
  auto type = get_u64(cur);
  auto len = type ? get_u64(cur) : std::nullopt;
  if (!len) return std::nullopt;
  if (*len > max_body) {
    corrupt_ = true;
    return std::nullopt;
  }
  if (cur.size() < *len) return std::nullopt;
  message m{static_cast<kind>(*type), std::string(cur.substr(0, *len))};
  offset_ += 16 + *len;
  // Compact once the consumed prefix is large, so a long run does not keep every byte.
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  } else if (offset_ > 1 << 20) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  return m;
}

}  // namespace chatd::bench::ipc
