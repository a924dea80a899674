#pragma once
// A member (worker/member.h) of the tests' own: it records the frames it is sent, so the
// application and rooms are tested without sessions, transports or a loop.

#include "worker/member.h"

#include <string>
#include <string_view>
#include <vector>

namespace chatd::testing {

struct test_member final : member {
  std::string sid, query, room_name;
  std::vector<std::string> got;  // WebSocket frame payloads (text frames under 126 bytes)
  bool connected = false;
  test_member(std::string id, std::string room) : sid(std::move(id)), room_name(std::move(room)) {
    query = R"({"channel":")" + room_name + R"(","userId":")" + sid + R"("})";
  }
  std::string_view id() const override { return sid; }
  std::string ns = "/";
  std::string_view nsp() const override { return ns; }
  bool channel_given = true;
  bool has_channel() const override { return channel_given; }
  std::string_view query_json() const override { return query; }
  std::string_view channel() const override { return room_name; }
  bool send(const shared_bytes& frame) override {
    got.push_back(frame->substr(2));  // 2-byte header of a short unmasked frame
    if (static_cast<unsigned char>((*frame)[0]) == 0x82) got.back().insert(0, "<binary>");
    return true;
  }
  void accept_connect() override { connected = true; }
  std::string pid;  // with recovery: the pid its CONNECT was answered with
  void accept_connect(std::string_view p) override {
    connected = true;
    pid.assign(p);
  }
  bool restore_id(std::string_view s) override {
    sid.assign(s);
    return true;
  }
  std::string refused;  // the CONNECT_ERROR message, if refused
  void refuse_connect(std::string_view message) override { refused.assign(message); }
  handshake_record hs;
  const handshake_record& handshake() const override { return hs; }
  std::string auth = "{}";
  std::string_view auth_json() const override { return auth; }
  std::string user;  // a verified user (auth: on); empty as with auth off
  std::string_view user_id() const override { return user; }
  int disconnects = 0;
  bool closed = false;
  void disconnect(bool close) override {
    ++disconnects;
    closed = closed || close;
  }
};

}  // namespace chatd::testing
