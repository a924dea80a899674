// Socket.IO packets: the protocol specification's examples, every form the decoder refuses,
// the EVENT argument splitter and the encoders. parse() takes the text after Engine.IO's '4'.

#include <doctest/doctest.h>

#include <string>

#include "common/socketio.h"

namespace sio = chatd::sio;
using sio::packet_type;

namespace {

sio::packet must_parse(std::string_view text) {
  std::string why;
  auto p = sio::parse(text, &why);
  INFO("text: ", std::string(text), " why: ", why);
  REQUIRE(p.has_value());
  return *p;
}

bool refused(std::string_view text) { return !sio::parse(text).has_value(); }

}  // namespace

// --- the specification's examples --------------------------------------------------------------

TEST_CASE("sio: CONNECT to the main namespace, with and without auth") {
  auto p = must_parse("0");
  CHECK(p.type == packet_type::connect);
  CHECK(p.nsp == "/");
  CHECK(p.data.empty());
  CHECK(p.ack_id == -1);
  auto a = must_parse(R"(0{"token":"123"})");
  CHECK(a.type == packet_type::connect);
  CHECK(a.data == R"({"token":"123"})");
}

TEST_CASE("sio: CONNECT to a namespace, with the comma or without it") {
  auto p = must_parse("0/admin,");
  CHECK(p.nsp == "/admin");
  CHECK(p.data.empty());
  auto q = must_parse("0/custom");
  CHECK(q.nsp == "/custom");
  CHECK(q.data.empty());
  auto r = must_parse(R"(0/admin,{"token":"123"})");
  CHECK(r.nsp == "/admin");
  CHECK(r.data == R"({"token":"123"})");
}

TEST_CASE("sio: DISCONNECT from a namespace") {
  auto p = must_parse("1/admin,");
  CHECK(p.type == packet_type::disconnect);
  CHECK(p.nsp == "/admin");
  CHECK(must_parse("1").nsp == "/");
}

TEST_CASE("sio: EVENT on the main namespace and on another one") {
  auto p = must_parse(R"(2["foo"])");
  CHECK(p.type == packet_type::event);
  CHECK(p.nsp == "/");
  CHECK(p.data == R"(["foo"])");
  auto q = must_parse(R"(2/admin,["bar"])");
  CHECK(q.nsp == "/admin");
  CHECK(q.data == R"(["bar"])");
}

TEST_CASE("sio: EVENT with an ack id") {
  auto p = must_parse(R"(212["foo"])");
  CHECK(p.ack_id == 12);
  CHECK(p.data == R"(["foo"])");
  auto q = must_parse(R"(2/admin,0["x"])");
  CHECK(q.ack_id == 0);
}

TEST_CASE("sio: EVENT named by a number") {
  auto p = must_parse(R"(2[1,"a"])");
  CHECK(p.data == R"([1,"a"])");
  CHECK(must_parse(R"(2[-1.5e3])").type == packet_type::event);
}

TEST_CASE("sio: ACK with a namespace and an id") {
  auto p = must_parse(R"(3/admin,13["bar"])");
  CHECK(p.type == packet_type::ack);
  CHECK(p.nsp == "/admin");
  CHECK(p.ack_id == 13);
  CHECK(p.data == R"(["bar"])");
  CHECK(must_parse("3[]").type == packet_type::ack);
}

TEST_CASE("sio: CONNECT_ERROR with an object or a string") {
  auto p = must_parse(R"(4/random,{"message":"Invalid namespace"})");
  CHECK(p.type == packet_type::connect_error);
  CHECK(p.nsp == "/random");
  CHECK(must_parse(R"(4"not authorized")").data == R"("not authorized")");
}

TEST_CASE("sio: BINARY_EVENT and BINARY_ACK carry their attachment count") {
  auto p = must_parse(R"(51-["baz",{"_placeholder":true,"num":0}])");
  CHECK(p.type == packet_type::binary_event);
  CHECK(p.attachments == 1);
  CHECK(p.data == R"(["baz",{"_placeholder":true,"num":0}])");
  auto q = must_parse(R"(62-/admin,15[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  CHECK(q.type == packet_type::binary_ack);
  CHECK(q.attachments == 2);
  CHECK(q.nsp == "/admin");
  CHECK(q.ack_id == 15);
  CHECK(must_parse(R"(510-["x"])").attachments == 10);
  CHECK(must_parse(R"(5002-["x"])").attachments == 2);  // leading zeros, as Number("002")
}

TEST_CASE("sio: JSON may be surrounded by whitespace") {
  CHECK(must_parse("2 [\"a\" , 1 ] \n").data == " [\"a\" , 1 ] \n");
}

// --- refused packets -----------------------------------------------------------------------------

TEST_CASE("sio: an empty packet or an unknown type is refused") {
  CHECK(refused(""));
  CHECK(refused("7"));
  CHECK(refused("9[\"a\"]"));
  CHECK(refused("a"));
  CHECK(refused("-1"));
  CHECK(refused(" 0"));
}

TEST_CASE("sio: a CONNECT payload that is not an object is refused") {
  for (auto t : {R"(0[])", R"(0"x")", "0 1", "0null", "0true", "0/admin,[]"}) {
    CHECK_MESSAGE(refused(t), std::string(t));
  }
}

TEST_CASE("sio: a DISCONNECT with a payload is refused") {
  CHECK(refused("1{}"));
  CHECK(refused("1/admin,{}"));
  CHECK(refused("1[]"));
}

TEST_CASE("sio: a CONNECT_ERROR that is not a string or an object is refused") {
  for (auto t : {"4[]", "41", "4null", "4false", "4"}) CHECK_MESSAGE(refused(t), std::string(t));
}

TEST_CASE("sio: an EVENT that is not a non-empty array is refused") {
  for (auto t : {"2", "2/admin,", "212", R"(2{})", R"(2"foo")", "2[]", "2null", "2 "}) {
    CHECK_MESSAGE(refused(t), std::string(t));
  }
}

TEST_CASE("sio: an EVENT named by something other than a string or a number is refused") {
  for (auto t : {"2[{}]", "2[[]]", "2[null]", "2[true]", "2[false]", R"(51-[null])"}) {
    CHECK_MESSAGE(refused(t), std::string(t));
  }
}

TEST_CASE("sio: reserved event names are refused, escaped or not") {
  for (auto name : {"connect", "connect_error", "disconnect", "disconnecting", "newListener",
                    "removeListener"}) {
    std::string text = std::string("2[\"") + name + "\",1]";
    CHECK_MESSAGE(refused(text), std::string(text));
    std::string bin = std::string("51-[\"") + name + "\",{\"_placeholder\":true,\"num\":0}]";
    CHECK_MESSAGE(refused(bin), std::string(bin));
  }
  CHECK(refused(R"(2["conn\u0065ct"])"));
  CHECK(must_parse(R"(2["Connect"])").type == packet_type::event);
  CHECK(must_parse(R"(2["connected"])").type == packet_type::event);
}

TEST_CASE("sio: an ACK that is not an array is refused") {
  for (auto t : {"3", "3{}", R"(3"a")", "31", "313"}) CHECK_MESSAGE(refused(t), std::string(t));
}

TEST_CASE("sio: malformed JSON is refused") {
  for (auto t : {R"(2["foo")", R"(2["foo"]])", R"(2["foo"] x)", R"(2['foo'])", R"(2["a",])",
                 R"(2["a\x"])", R"(2["a" "b"])", "2[\"a\nb\"]", R"(0{"a":1,})",
                 R"(0{a:1})", R"(2[01])", R"(2[1.])", R"(2[NaN])", ",[\"a\"]"}) {
    CHECK_MESSAGE(refused(t), std::string(t));
  }
}

TEST_CASE("sio: JSON that is not valid UTF-8 is refused") {
  CHECK(refused("2[\"\xC0\xAF\"]"));
  CHECK(refused("2[\"ok\",\"\xED\xA0\x80\"]"));
  CHECK(refused("2[\"\xF0\x9F\"]"));
}

TEST_CASE("sio: escapes of unpaired surrogates are accepted, as JSON.parse does") {
  CHECK(must_parse(R"(2["\ud83d"])").type == packet_type::event);
  CHECK(must_parse(R"(2["cut \ud83d", "\udc00x", "\uDBFF\u0041"])").type == packet_type::event);
  CHECK(must_parse(R"(2["\ud83d\ude00 pair"])").type == packet_type::event);
  CHECK(must_parse(R"(2["\\ud800 is text"])").type == packet_type::event);
  CHECK(refused(R"(2["\ud83d")"));  // still malformed for other reasons
  CHECK(refused(R"(2["\ud83"])"));
}

TEST_CASE("sio: integers beyond 64 bits are read as JSON.parse rounds them; beyond doubles refused") {
  // 1e400 is Infinity to JSON.parse, but JSON.stringify never writes it (Infinity prints null):
  // only a hand-made client sends it, and chatd refuses it rather than relay what no peer meant.
  CHECK(must_parse(R"(2["a",123456789012345678901234567890])").type == packet_type::event);
  CHECK(refused(R"(2["a",1e400])"));
  CHECK(must_parse(R"(2["a",1e300,18446744073709551615,-9223372036854775808])").type ==
        packet_type::event);
}

TEST_CASE("sio: a comma with no namespace before it is refused") {
  CHECK(refused(R"(2,["a"])"));
  CHECK(refused("0,"));
  CHECK(refused("1,"));
}

TEST_CASE("sio: a namespace without a comma swallows the rest of the text") {
  // As in the reference decoder: the namespace ends only at ',' or at the end.
  auto p = must_parse(R"(0/admin{"a":1})");
  CHECK(p.nsp == R"(/admin{"a":1})");
  CHECK(p.data.empty());
  CHECK(refused(R"(2/admin["x"])"));  // an EVENT with no data after the namespace
}

TEST_CASE("sio: binary packets need 1 to 10 attachments and a '-'") {
  for (auto t : {R"(5["a"])", R"(5-["a"])", R"(50-["a"])", R"(511-["a"])", R"(51000-["a"])",
                 R"(51["a"])", "51", "5x-[\"a\"]", "6-[]", "611-[]", "5 1-[\"a\"]"}) {
    CHECK_MESSAGE(refused(t), std::string(t));
  }
}

TEST_CASE("sio: an ack id above 2^53 - 1 is refused") {
  CHECK(must_parse(R"(29007199254740991["a"])").ack_id == 9007199254740991);
  CHECK(refused(R"(29007199254740992["a"])"));
  CHECK(refused(R"(2999999999999999999999999["a"])"));
}

TEST_CASE("sio: numbers JSON.stringify writes beyond 64 bits are valid JSON") {
  // JSON.stringify(1e20) and (-3e19) print 21 and 20 digits; simdjson refuses them as integers,
  // every JS peer reads them. The packet is relayed as it came.
  auto p = must_parse(R"(2["message",{"big":100000000000000000000,"neg":-30000000000000000000}])");
  CHECK(p.data == R"(["message",{"big":100000000000000000000,"neg":-30000000000000000000}])");
  CHECK(refused(R"(2["message",1e400x])"));
}

TEST_CASE("sio: parse says why it refused a packet") {
  std::string why;
  CHECK_FALSE(sio::parse(R"(2["disconnect"])", &why).has_value());
  CHECK(why == "EVENT name is reserved");
  CHECK_FALSE(sio::parse("8", &why).has_value());
  CHECK(why == "unknown packet type");
  CHECK_FALSE(sio::parse("2[", &why).has_value());
  CHECK(why == "invalid JSON");
}

TEST_CASE("sio: parse handles a large payload and then small ones again") {
  std::string big = R"(2["message",")" + std::string(200000, 'x') + "\"]";
  CHECK(must_parse(big).data.size() == big.size() - 1);
  CHECK(must_parse(R"(2["a"])").data == R"(["a"])");
  CHECK(refused(R"(2["a")"));
}

// --- split_event ---------------------------------------------------------------------------------

TEST_CASE("sio: split_event gives the name, the first argument's JSON and the count") {
  auto ev = sio::split_event(R"(["message",{"userId":"u1","channel":"c","body":"hi"}])");
  REQUIRE(ev.has_value());
  CHECK(ev->name == "message");
  CHECK(ev->first_arg == R"({"userId":"u1","channel":"c","body":"hi"})");
  CHECK(ev->argc == 1);
}

TEST_CASE("sio: first_element of an ACK's arguments") {
  CHECK(sio::first_element(R"([{"a":[1,2]},"b"])") == std::optional<std::string_view>(R"({"a":[1,2]})"));
  CHECK(sio::first_element(" [ \"x\" ] ") == std::optional<std::string_view>(R"("x")"));
  CHECK(sio::first_element("[]") == std::optional<std::string_view>(""));
  CHECK_FALSE(sio::first_element("{}").has_value());
}

TEST_CASE("sio: split_event with no arguments") {
  auto ev = sio::split_event(R"(["ping"])");
  REQUIRE(ev.has_value());
  CHECK(ev->name == "ping");
  CHECK(ev->first_arg.empty());
  CHECK(ev->argc == 0);
}

TEST_CASE("sio: split_event counts every argument of every kind") {
  auto ev = sio::split_event(R"(["e",1,"two",[3,[4]],{"five":{"6":[]}},true,false,null,-7.5e1])");
  REQUIRE(ev.has_value());
  CHECK(ev->first_arg == "1");
  CHECK(ev->argc == 8);
}

TEST_CASE("sio: split_event is not fooled by brackets, commas and quotes inside strings") {
  auto ev = sio::split_event(R"(["e",{"a":"],[}{,\"\\","b":["\\"]},"x\"]"])");
  REQUIRE(ev.has_value());
  CHECK(ev->first_arg == R"({"a":"],[}{,\"\\","b":["\\"]})");
  CHECK(ev->argc == 2);
}

TEST_CASE("sio: split_event skips whitespace around the values") {
  auto ev = sio::split_event(" [ \"e\" ,\n\t{ \"a\" : 1 } \r, 2 ] ");
  REQUIRE(ev.has_value());
  CHECK(ev->name == "e");
  CHECK(ev->first_arg == "{ \"a\" : 1 }");
  CHECK(ev->argc == 2);
}

TEST_CASE("sio: split_event unescapes the event name") {
  auto ev = sio::split_event(R"(["a\"b\\c\/d\n\t\u00e9\u20AC\ud83d\ude00",1])");
  REQUIRE(ev.has_value());
  CHECK(ev->name == "a\"b\\c/d\n\t\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  auto lone = sio::split_event(R"(["\ud83d!"])");
  REQUIRE(lone.has_value());
  CHECK(lone->name == "\xEF\xBF\xBD!");
}

TEST_CASE("sio: split_event gives a numeric name as its text") {
  auto ev = sio::split_event(R"([42,"x"])");
  REQUIRE(ev.has_value());
  CHECK(ev->name == "42");
  CHECK(ev->first_arg == R"("x")");
  auto neg = sio::split_event("[-1.5e3]");
  REQUIRE(neg.has_value());
  CHECK(neg->name == "-1.5e3");
}

TEST_CASE("sio: split_event refuses what is not an EVENT array") {
  for (auto t : {"", "{}", "\"a\"", "[]", "[{}]", "[null]", "[true,1]", "[[1]]", "1"}) {
    CHECK_FALSE_MESSAGE(sio::split_event(t).has_value(), std::string(t));
  }
}

TEST_CASE("sio: split_event refuses truncated text without reading past it") {
  std::string full = R"(["message",{"a":"b\"c","d":[1,2]},3])";
  for (size_t n = 0; n < full.size(); ++n) {
    CHECK_FALSE_MESSAGE(sio::split_event(std::string_view(full).substr(0, n)).has_value(), n);
  }
  CHECK(sio::split_event(full).has_value());
}

TEST_CASE("sio: split_event works on the data of a parsed packet") {
  auto p = must_parse(R"(2/chat,7["message",{"body":"hi"}])");
  auto ev = sio::split_event(p.data);
  REQUIRE(ev.has_value());
  CHECK(ev->name == "message");
  CHECK(ev->first_arg == R"({"body":"hi"})");
}

// --- encoders ------------------------------------------------------------------------------------

TEST_CASE("sio: encode writes the Engine.IO prefix, the type and the data") {
  CHECK(sio::encode(packet_type::event, "/", R"(["foo"])") == R"(42["foo"])");
  CHECK(sio::encode(packet_type::connect, "/", R"({"sid":"abc"})") == R"(40{"sid":"abc"})");
  CHECK(sio::encode(packet_type::disconnect, "/", "") == "41");
}

TEST_CASE("sio: encode writes a namespace other than / followed by a comma") {
  CHECK(sio::encode(packet_type::event, "/admin", R"(["bar"])") == R"(42/admin,["bar"])");
  CHECK(sio::encode(packet_type::disconnect, "/admin", "") == "41/admin,");
  CHECK(sio::encode(packet_type::connect_error, "/random", R"({"message":"Invalid namespace"})") ==
        R"(44/random,{"message":"Invalid namespace"})");
}

TEST_CASE("sio: encode writes the ack id before the data") {
  CHECK(sio::encode(packet_type::event, "/", R"(["foo"])", 12) == R"(4212["foo"])");
  CHECK(sio::encode(packet_type::ack, "/admin", R"(["bar"])", 13) == R"(43/admin,13["bar"])");
  CHECK(sio::encode(packet_type::ack, "/", "[]", 0) == "430[]");
}

TEST_CASE("sio: encoded packets parse back to the same parts") {
  auto wire = sio::encode(packet_type::ack, "/admin", R"(["x",{"y":1}])", 99);
  REQUIRE(wire[0] == '4');
  auto p = must_parse(std::string_view(wire).substr(1));
  CHECK(p.type == packet_type::ack);
  CHECK(p.nsp == "/admin");
  CHECK(p.ack_id == 99);
  CHECK(p.data == R"(["x",{"y":1}])");
}

TEST_CASE("sio: encode_event splices the argument JSON as it is") {
  CHECK(sio::encode_event("chat", R"({"userId":"u","channel":"c","body":"hi"})") ==
        R"(42["chat",{"userId":"u","channel":"c","body":"hi"}])");
  CHECK(sio::encode_event("login", R"({"channel":"c"})") == R"(42["login",{"channel":"c"}])");
}

TEST_CASE("sio: encode_event escapes the event name and allows no argument") {
  CHECK(sio::encode_event("a\"b\n", "1") == R"(42["a\"b\n",1])");
  CHECK(sio::encode_event("ping", "") == R"(42["ping"])");
}

TEST_CASE("attachment placeholders are checked as socket.io-parser's reconstructPacket does") {
  CHECK(sio::valid_placeholders(R"(["message",{"f":{"_placeholder":true,"num":0}}])", 1));
  CHECK(sio::valid_placeholders(R"(["message",[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]])", 2));
  CHECK(sio::valid_placeholders(R"(["message",{"_placeholder":false,"num":9}])", 0));  // not one
  CHECK(sio::valid_placeholders(R"(["message","no binary at all"])", 0));
  CHECK(sio::valid_placeholders(R"(["message",{"_placeholder":true,"num":0.5}])", 1));  // a number in range
  CHECK_FALSE(sio::valid_placeholders(R"(["message",{"f":{"_placeholder":true,"num":1}}])", 1));
  CHECK_FALSE(sio::valid_placeholders(R"(["message",{"_placeholder":true,"num":-1}])", 1));
  CHECK_FALSE(sio::valid_placeholders(R"(["message",{"_placeholder":true,"num":"0"}])", 1));
  CHECK_FALSE(sio::valid_placeholders(R"(["message",{"_placeholder":true}])", 1));
  CHECK_FALSE(sio::valid_placeholders(R"(["message",[[{"deep":{"_placeholder":true,"num":2}}]]])", 2));
}

// --- wire text for the fan-out and the session's answers ---------------------------------------

TEST_CASE("sio: type_prefix is the Engine.IO 4 and the packet type digit") {
  CHECK(sio::type_prefix(packet_type::connect) == "40");
  CHECK(sio::type_prefix(packet_type::event) == "42");
  CHECK(sio::type_prefix(packet_type::binary_event) == "45");
  CHECK(sio::type_prefix(packet_type::binary_ack) == "46");
}

TEST_CASE("sio: the connect reply parts frame 40{\"sid\":...}") {
  std::string wire = std::string(sio::connect_reply_head) + "AAAAAAAAAAAAAAAAAAAA" +
                     std::string(sio::connect_reply_tail);
  CHECK(wire == R"(40{"sid":"AAAAAAAAAAAAAAAAAAAA"})");
  auto p = sio::parse(std::string_view(wire).substr(1));
  REQUIRE(p.has_value());
  CHECK(p->type == packet_type::connect);
}

TEST_CASE("sio: event_head + argument + event_tail equals encode_event") {
  for (std::string_view ev : {"login", "chat", "a\"b"}) {
    std::string framed = sio::event_head(ev) + R"({"x":1})" + std::string(sio::event_tail);
    CHECK(framed == sio::encode_event(ev, R"({"x":1})"));
  }
  CHECK(sio::event_head("chat") == R"(42["chat",)");
}

TEST_CASE("sio: event_data is the EVENT array without the packet prefix") {
  CHECK(sio::event_data("chat", R"({"body":"hi"})") == R"(["chat",{"body":"hi"}])");
  CHECK(sio::event_data("login", "null") == R"(["login",null])");
  CHECK("42" + sio::event_data("chat", "1") == sio::encode_event("chat", "1"));
}

TEST_CASE("sio: binary_event_head counts the attachments") {
  CHECK(sio::binary_event_head(1) == "451-");
  CHECK(sio::binary_event_head(12) == "4512-");
}

TEST_CASE("sio: encode_ack writes 43<id><args>") {
  CHECK(sio::encode_ack(0, "[]") == "430[]");
  CHECK(sio::encode_ack(12345, "[]") == "4312345[]");
  CHECK(sio::encode_ack(7, R"([{"bus":true}])") == R"(437[{"bus":true}])");
}

TEST_CASE("sio: encode_connect_error writes the message object, namespace when not /") {
  CHECK(sio::encode_connect_error("/random", "Invalid namespace") ==
        R"(44/random,{"message":"Invalid namespace"})");
  CHECK(sio::encode_connect_error("/", "missing channel: io(url, {query: {channel}})") ==
        R"json(44{"message":"missing channel: io(url, {query: {channel}})"})json");
  CHECK(sio::encode_connect_error("/", "say \"hi\"") == R"(44{"message":"say \"hi\""})");
}
