#pragma once
// socket.io-parser's attachment placeholder rule (reconstructPacket), in one place for the
// packet check (common/socketio: a client's BINARY_EVENT) and the bus encoder (common/bus_wire:
// attachments become msgpack bin where their placeholders are). An object whose _placeholder is
// true stands for attachment `num`; a num that is not a number in [0, attachments) makes the
// reference decoder throw "illegal attachments".

#include <simdjson.h>

#include <cstddef>

namespace chatd::sio {

struct placeholder_ref {
  enum class kind { none, illegal, valid } what = kind::none;
  double num = 0;  // when valid; JavaScript indexes with it as given (0.5 reads undefined)
};

inline placeholder_ref read_placeholder(simdjson::dom::object o, size_t attachments) {
  using simdjson::dom::element_type;
  simdjson::dom::element flag;
  if (o.at_key("_placeholder").get(flag) != simdjson::SUCCESS || flag.type() != element_type::BOOL ||
      !flag.get_bool().value_unsafe()) {
    return {};
  }
  placeholder_ref r{placeholder_ref::kind::illegal, 0};
  simdjson::dom::element num;
  if (o.at_key("num").get(num) != simdjson::SUCCESS) return r;
  switch (num.type()) {
    case element_type::INT64: r.num = static_cast<double>(num.get_int64().value_unsafe()); break;
    case element_type::UINT64: r.num = static_cast<double>(num.get_uint64().value_unsafe()); break;
    case element_type::DOUBLE: r.num = num.get_double().value_unsafe(); break;
    default: return r;
  }
  if (r.num >= 0 && r.num < static_cast<double>(attachments)) r.what = placeholder_ref::kind::valid;
  return r;
}

}  // namespace chatd::sio
