#pragma once
// The pipe protocol between chatd-bench's parent and its generator processes. Each message is
// [u64 type][u64 length][body]. Children send progress every second, `connected` when their
// connect phase is over and `final` when counting stops; the parent answers `go` (with the
// common start time, CLOCK_MONOTONIC being system-wide), `stop` (finish now) and `close`.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chatd::bench::ipc {

enum class kind : uint64_t {
  progress = 1,   // child -> parent: serialized run_result so far
  connected = 2,  // child -> parent: serialized run_result at the end of the connect phase
  final = 3,      // child -> parent: serialized run_result when counting stopped
  go = 10,        // parent -> child: u64 start time (monotonic µs)
  stop = 11,      // parent -> child: stop sending and report `final` now
  close = 12,     // parent -> child: close every connection and exit
};

struct message {
  kind type;
  std::string body;
};

std::string encode(kind type, std::string_view body);

// Reassembles messages from pipe reads of any size.
class message_reader {
 public:
  void append(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete message, or nullopt when more bytes are needed. A length beyond
  // `max_body` marks the stream as corrupt (and `corrupt()` turns true).
  std::optional<message> next();
  bool corrupt() const { return corrupt_; }
  // Bytes of a message not yet complete.
  size_t pending() const { return buffer_.size() - offset_; }

  static constexpr uint64_t max_body = uint64_t{1} << 30;

 private:
  std::string buffer_;
  size_t offset_ = 0;
  bool corrupt_ = false;
};

}  // namespace chatd::bench::ipc
