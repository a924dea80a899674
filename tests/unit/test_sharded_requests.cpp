// Unit tests of the sharded adapter's requests and responses seen as classic ones
// (common/sharded_requests.h): each request type both ways, each answer, and what has no form.

#include "common/sharded_requests.h"

#include <doctest/doctest.h>

using namespace chatd;
using namespace chatd::wire;
using sharded::message;
using sharded::message_type;

TEST_CASE("sharded requests: each request type becomes its classic form") {
  message m;
  m.uid = "node01";
  m.type = message_type::fetch_sockets;
  m.request_id = "r1";
  m.opts.rooms = {"room1"};
  m.opts.except = {"x"};
  auto r = sharded::to_request(m);
  REQUIRE(r);
  CHECK(r->type == request_type::remote_fetch);
  CHECK(r->uid == "node01");
  CHECK(r->request_id == "r1");
  REQUIRE(r->opts);
  CHECK(r->opts->rooms == std::vector<std::string>{"room1"});
  CHECK(r->opts->except == std::vector<std::string>{"x"});

  m = message{};
  m.uid = "n";
  m.type = message_type::sockets_join;
  m.opts.rooms = {"a"};
  m.rooms = {"b", "c"};
  r = sharded::to_request(m);
  REQUIRE(r);
  CHECK(r->type == request_type::remote_join);
  CHECK(r->rooms == std::vector<std::string>{"b", "c"});
  m.type = message_type::sockets_leave;
  CHECK(sharded::to_request(m)->type == request_type::remote_leave);

  m = message{};
  m.type = message_type::disconnect_sockets;
  m.close = true;
  r = sharded::to_request(m);
  REQUIRE(r);
  CHECK(r->type == request_type::remote_disconnect);
  CHECK(r->close);

  m = message{};
  m.type = message_type::server_side_emit;
  m.data.json = R"(["hello",1])";
  r = sharded::to_request(m);
  REQUIRE(r);
  CHECK(r->type == request_type::server_side_emit);
  CHECK(r->data.json == R"(["hello",1])");
  CHECK_FALSE(r->request_id);

  m = message{};
  m.uid = "n2";
  m.type = message_type::broadcast;
  m.request_id = "ack1";
  m.timeout_ms = 5000;
  m.packet.data_json = R"(["ping"])";
  m.packet.rooms = {"r"};
  r = sharded::to_request(m);
  REQUIRE(r);
  CHECK(r->type == request_type::broadcast);
  CHECK(r->packet.uid == "n2");
  CHECK(r->packet.rooms == std::vector<std::string>{"r"});
  CHECK(r->timeout_ms == 5000);
}

TEST_CASE("sharded requests: plain broadcasts, responses and heartbeats are not requests") {
  message m;
  m.type = message_type::broadcast;  // no requestId: chat's, not the adapter's
  CHECK_FALSE(sharded::to_request(m));
  for (message_type t : {message_type::initial_heartbeat, message_type::heartbeat,
                         message_type::adapter_close, message_type::fetch_sockets_response,
                         message_type::broadcast_ack}) {
    m.type = t;
    CHECK_FALSE(sharded::to_request(m));
  }
  m.type = message_type::fetch_sockets;
  CHECK_FALSE(sharded::to_response(m));
}

TEST_CASE("sharded requests: answers go both ways") {
  bus_response a;
  a.request_id = "q";
  remote_socket sock;
  sock.id = "sock";
  a.sockets.emplace(1, sock);
  auto m = sharded::answer_message("me", request_type::remote_fetch, a);
  REQUIRE(m);
  CHECK(m->type == message_type::fetch_sockets_response);
  CHECK(m->uid == "me");
  CHECK(m->request_id == "q");
  REQUIRE(m->sockets.size() == 1);
  auto back = sharded::to_response(*m);
  REQUIRE(back);
  CHECK(back->request_id == "q");
  REQUIRE(back->sockets);
  CHECK(back->sockets->at(0).id == "sock");

  bus_response count;
  count.request_id = "b";
  count.type = request_type::broadcast_client_count;
  count.client_count = 3;
  m = sharded::answer_message("me", request_type::broadcast, count);
  REQUIRE(m);
  CHECK(m->type == message_type::broadcast_client_count);
  CHECK(m->client_count == 3);
  CHECK(sharded::to_response(*m)->client_count == 3);

  bus_response ack;
  ack.request_id = "b";
  ack.type = request_type::broadcast_ack;
  ack.packet.json = R"("ok")";
  m = sharded::answer_message("me", request_type::broadcast, ack);
  REQUIRE(m);
  CHECK(m->type == message_type::broadcast_ack);
  CHECK(m->data.json == R"("ok")");
  back = sharded::to_response(*m);
  CHECK(back->type == request_type::broadcast_ack);
  CHECK(back->packet.json == R"("ok")");

  bus_response emit;
  emit.request_id = "e";
  emit.type = request_type::server_side_emit;
  emit.data.json = R"({"pid":1})";
  m = sharded::answer_message("me", request_type::server_side_emit, emit);
  REQUIRE(m);
  CHECK(m->type == message_type::server_side_emit_response);
  CHECK(sharded::to_response(*m)->data.json == R"({"pid":1})");

  // allRooms() and the 6.x forms have no sharded answer.
  CHECK_FALSE(sharded::answer_message("me", request_type::all_rooms, a));
  CHECK_FALSE(sharded::answer_message("me", request_type::sockets, a));
}

TEST_CASE("sharded requests: chatd's own fetch goes out as FETCH_SOCKETS") {
  bus_request r;
  r.type = request_type::remote_fetch;
  r.uid = "me";
  r.request_id = "id";
  r.opts = room_selector{{"room"}, {}};
  auto m = sharded::request_message(r);
  REQUIRE(m);
  CHECK(m->type == message_type::fetch_sockets);
  CHECK(m->request_id == "id");
  CHECK(m->opts.rooms == std::vector<std::string>{"room"});
  r.type = request_type::all_rooms;
  CHECK_FALSE(sharded::request_message(r));
}
