#pragma once
// The long-polling transport of one Engine.IO session. What the session sends waits here (the
// shared WebSocket frames, so a broadcast is framed once whatever its recipients' transports)
// until a GET takes it, cut into a polling payload (worker/poll_payload.h). At most one GET is
// held at a time, by the HTTP connection it arrived on, seen here only as a `held_get`.
//
// The session owns its poll_transport (from a polling handshake until the upgrade completes or
// the session is freed) and reaches it only as its `transport` plus the few calls below that
// polling needs. The links, each dropped in one call on both sides:
//   - transport -> session: a GET's connection closing early is the session's transport going
//     away (session::transport_gone), as engine.io treats a polling request error;
//   - transport -> held GET: answer_poll() lets the GET go, whoever asks for it (the connection's
//     flush via take_payload, or close/answer_noop here).

#include "worker/frame.h"
#include "worker/output_budget.h"
#include "worker/transport.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chatd {

class session;

// The HTTP connection holding a long-polling GET.
class held_get {
 public:
  // Answers the GET with an Engine.IO polling payload; the connection lets go of the transport.
  virtual void answer_poll(std::string_view payload) = 0;
  // The transport has something: answer at the connection's next flush (take_payload).
  virtual void wake() = 0;

 protected:
  held_get() = default;
  ~held_get() = default;
  held_get(const held_get&) = delete;
  held_get& operator=(const held_get&) = delete;
};

class poll_transport final : public transport, private output_account {
 public:
  // `max_pending` bounds the bytes waiting for a GET (max_backpressure); what waits is charged
  // to `budget` (limits.max_output_memory; null: not counted).
  poll_transport(session& owner, size_t max_pending, output_budget* budget);
  ~poll_transport();

  // transport. send() refuses a frame over the bound and tells the session
  // (session::transport_overflow), which ends from its timer, outside the caller's loop.
  bool send(const shared_bytes& frame) override;
  // The session is ending: a held GET carries what was pending and then the close packet.
  void close(uint16_t code, std::string_view why) override;
  void release() override {}

  // A GET arrived on `g`. False when another GET is held already (the caller answers 400 and
  // the session ends, as engine.io has it).
  bool hold(held_get& g);
  bool holding() const { return held_ != nullptr; }
  // Whether a held GET should be answered now: packets pending, or the upgrade's probe answered
  // (GETs then return at once, a noop if nothing else, so the client can pause polling).
  bool ready() const { return !pending_.empty() || answer_at_once_; }
  // The payload for the held GET (a noop when nothing is pending); the GET is let go.
  std::string take_payload();
  // `g`'s connection closed while it held the GET: the session's transport is gone.
  void get_gone(held_get& g);

  // The held GET, if any, returns a noop now (the client's close packet; the upgrade's end).
  void answer_noop();
  void answer_at_once(bool on);
  // What polling has not delivered (the upgrade moves it to the WebSocket, in order).
  std::vector<shared_bytes> take_pending();

 private:
  // output_account: over the worker's budget, this session is among the largest: it ends, as
  // over max_backpressure.
  void drop_for_budget() override;

  session& owner_;
  size_t max_pending_;
  std::vector<shared_bytes> pending_;
  size_t pending_bytes_ = 0;
  held_get* held_ = nullptr;
  bool answer_at_once_ = false;
  bool refusing_ = false;  // over the bound once: the session is ending, nothing more is queued
};

}  // namespace chatd
