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
#include <string>
#include <string_view>
#include <vector>

namespace chatd {

struct room;

// What a Node server's socket.handshake holds besides the query and auth, kept from the HTTP
// request that opened the session (REMOTE_FETCH answers carry it to other nodes).
struct handshake_record {
  // Node's req.headers as JSON (lower-case names, in arrival order) and req.url, the request
  // target: kept in one allocation, since every connection holds them as long as it lives.
  void set(std::string_view headers_json, std::string_view url) {
    text_.reserve(headers_json.size() + url.size());
    text_.assign(headers_json).append(url);
    url_at_ = static_cast<uint32_t>(headers_json.size());
  }
  std::string_view headers_json() const {
    return text_.empty() ? std::string_view("{}") : std::string_view(text_).substr(0, url_at_);
  }
  std::string_view url() const { return std::string_view(text_).substr(url_at_); }

  std::string address;              // the peer's IP, as req.socket.remoteAddress
  uint64_t issued_ms = 0;           // ms since the epoch
  bool xdomain = false;             // an Origin header was sent
  bool secure = false;              // TLS (chatd serves plain TCP; a proxy terminates TLS)

 private:
  std::string text_;
  uint32_t url_at_ = 0;
};

class member {
 public:
  member() = default;
  member(const member&) = delete;
  member& operator=(const member&) = delete;

  // The Socket.IO socket id (stable while connected).
  virtual std::string_view id() const = 0;
  // The namespace the socket joined ("/" or "/<name>"): every packet sent to it names it.
  virtual std::string_view nsp() const { return "/"; }
  // The handshake query as a JSON object (what socket.handshake.query is in Node), and the
  // `channel` parameter of it (empty when absent).
  virtual std::string_view query_json() const = 0;
  virtual std::string_view channel() const = 0;
  // Whether the query had a `channel` parameter at all (an empty one counts).
  virtual bool has_channel() const { return true; }
  // Queues a pre-framed WebSocket frame. False when the socket refused it (closing, or over its
  // backpressure bound: it then closes itself, outside the caller's loop).
  virtual bool send(const shared_bytes& frame) = 0;
  // Answers the client's CONNECT (`40[/nsp,]{"sid":…}`): the socket counts as connected from
  // then on.
  virtual void accept_connect() = 0;
  // Connection state recovery (worker/recovery.h): the answer with the session's private id,
  // `40[/nsp,]{"sid":…,"pid":…}`. A member that cannot carry one answers as accept_connect().
  virtual void accept_connect(std::string_view pid) {
    (void)pid;
    accept_connect();
  }
  // A restore gives the socket its previous sid, before the application registers it (never
  // after); false when this member cannot take it (then it connects afresh).
  virtual bool restore_id(std::string_view sid) {
    (void)sid;
    return false;
  }
  // Refuses the client's CONNECT (`44[/nsp,]{"message":…}`) from inside on_connect: the application
  // holds no reference to the member afterwards (no on_disconnect follows).
  virtual void refuse_connect(std::string_view message) = 0;
  virtual const handshake_record& handshake() const = 0;
  // The CONNECT packet's payload (socket.handshake.auth) as JSON; "{}" when it had none.
  virtual std::string_view auth_json() const = 0;
  // The user the CONNECT's token was verified for (auth: on, worker/connect_auth.h); empty when
  // auth is off: then nothing vouches for the query's userId.
  virtual std::string_view user_id() const { return {}; }
  // A server-side disconnect (socket.disconnect(close)): the client gets DISCONNECT, its reason
  // "io server disconnect", and the application's on_disconnect runs now; with `close` the
  // Engine.IO connection closes too. It leaves rooms: never call it inside a room walk.
  virtual void disconnect(bool close) = 0;

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
  // A restore is replaying what the socket missed: live deliveries are held for it until then
  // (written by worker/recovery only; the application checks it when it delivers).
  bool held_ = false;

 protected:
  ~member() = default;
};

}  // namespace chatd
