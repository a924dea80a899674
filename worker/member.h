#pragma once
// What an application (worker/app.h) sees of a connected Socket.IO socket: its id, its handshake,
// a way to send it pre-framed packets, and the answer to its CONNECT. Sessions implement it; an
// application never sees the Engine.IO session, its transports or its timers, so it can be unit
// tested with members of its own.
//
// The public fields are bookkeeping owned by `rooms` (membership) and the application (marks):
// nobody else writes them.

#include "worker/frame.h"

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace chatd {

struct room;

class member {
 public:
  member() = default;
  member(const member&) = delete;
  member& operator=(const member&) = delete;

  // The Socket.IO socket id (stable while connected).
  virtual std::string_view id() const = 0;
  // The handshake query as a JSON object (what socket.handshake.query is in Node), and the
  // `channel` parameter of it (empty when absent).
  virtual std::string_view query_json() const = 0;
  virtual std::string_view channel() const = 0;
  // Queues a pre-framed WebSocket frame. False when the socket refused it (closing, or over its
  // backpressure bound: it then closes itself, outside the caller's loop).
  virtual bool send(const shared_bytes& frame) = 0;
  // Answers the client's CONNECT (`40{"sid":…}`): the socket counts as connected from then on.
  virtual void accept_connect() = 0;

  // Room membership, written by `rooms` only. A socket's first room (the seed's channel) lives
  // inline; rooms joined later (a REMOTE_JOIN from another node: socketsJoin) in `extra_rooms_`,
  // allocated only then, so the common one-room socket costs no allocation for it.
  struct membership {
    room* where = nullptr;
    uint32_t index = 0;  // position in where->members
  };
  membership home_;
  std::unique_ptr<std::vector<membership>> extra_rooms_;
  // Broadcast de-duplication stamp, written by the application only.
  uint64_t mark_ = 0;
  // The CONNECT answer waits for the room's Redis subscription (the application's bookkeeping).
  bool connect_pending_ = false;

 protected:
  ~member() = default;
};

}  // namespace chatd
