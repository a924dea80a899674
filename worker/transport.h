#pragma once
// What an Engine.IO session sends through and closes: a WebSocket connection (the session's
// transport, or a probe during an upgrade). The session talks to "its transport" only through
// this interface, never to connection internals.
//
// The link: a transport carries at most one session and tells it what arrives
// (session::on_ws_message) and when it goes away (session::transport_gone). The session ends the
// link from its side with release(); the transport's side ends when it calls transport_gone.
// Each side drops its pointer in that one call, so the two cannot disagree.

#include "worker/frame.h"

#include <cstdint>
#include <string_view>

namespace chatd {

class transport {
 public:
  // Queues a pre-framed WebSocket frame. False when refused: closing, or over max_backpressure
  // (the transport then closes itself, outside the caller's loop).
  virtual bool send(const shared_bytes& frame) = 0;
  // Closes gracefully: close frame with `code`, flush, then the TCP connection.
  virtual void close(uint16_t code, std::string_view why) = 0;
  // The session lets go: nothing more is delivered to it and transport_gone is not called.
  virtual void release() = 0;

 protected:
  transport() = default;
  ~transport() = default;
  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;
};

}  // namespace chatd
