// See echo.h.

#include "worker/echo.h"

#include "common/socketio.h"
#include "common/ws_codec.h"
#include "worker/member.h"

#include <algorithm>

namespace chatd {

namespace {

std::string back_name(std::string_view name) {
  std::string out(name);
  out.append("-back");
  return out;
}

// ["<event>"[,<args>]]
std::string data_array(std::string_view event, std::string_view args) {
  std::string out = sio::encode_event_args("/", event, args);
  return out.substr(2);  // without the "42" of the Engine.IO message and EVENT type
}

void send_binary(member& m, const std::string& head, const std::vector<std::string>& attachments) {
  if (!m.send(make_text_frame({head}))) return;
  for (const std::string& a : attachments) {
    std::string f;
    ws::append_frame(f, ws::opcode::binary, a);
    m.send(make_bytes(std::move(f)));
  }
}

}  // namespace

void echo::on_connect(member& m) {
  m.accept_connect();
  m.send(make_text_frame({sio::event_head(m.nsp(), "auth"), m.auth_json(), sio::event_tail}));
}

app::ack_args echo::on_event(member& m, std::string_view name, std::string_view first_arg_json) {
  sio::event_args ev;
  ev.name.assign(name);
  ev.first_arg = first_arg_json;
  ev.args = first_arg_json;
  ev.argc = first_arg_json.empty() ? 0 : 1;
  return on_event(m, ev, -1);
}

app::ack_args echo::on_event(member& m, const sio::event_args& ev, int64_t ack_id) {
  if (ack_id < 0 && ev.name == "emit-with-ack") {
    const int64_t id = next_ack_id_++;
    waiting_[std::string(m.id())].push_back(id);
    std::string data = data_array(ev.name, ev.args);
    m.send(make_text_frame({sio::encode(sio::packet_type::event, m.nsp(), data, id)}));
    return std::nullopt;
  }
  if (ack_id >= 0) {
    ack_.assign("[").append(ev.args).append("]");
    return ack_;
  }
  m.send(make_text_frame({sio::encode_event_args(m.nsp(), back_name(ev.name), ev.args)}));
  return std::nullopt;
}

void echo::on_ack(member& m, int64_t ack_id, std::string_view args_json,
                  std::vector<std::string> attachments) {
  auto it = waiting_.find(std::string(m.id()));
  if (it == waiting_.end()) return;
  auto& ids = it->second;
  auto at = std::find(ids.begin(), ids.end(), ack_id);
  if (at == ids.end()) return;  // not an ack we asked for: ignored, as socket.io does
  ids.erase(at);
  if (ids.empty()) waiting_.erase(it);
  // The ACK's arguments are a JSON array: re-emitted as the event's arguments.
  std::string_view inner = args_json;
  if (inner.size() >= 2 && inner.front() == '[' && inner.back() == ']') {
    inner = inner.substr(1, inner.size() - 2);
  }
  if (attachments.empty()) {
    m.send(make_text_frame({sio::encode_event_args(m.nsp(), "emit-with-ack-back", inner)}));
    return;
  }
  send_binary(m, sio::encode_binary(sio::packet_type::binary_event, m.nsp(), attachments.size(),
                                    data_array("emit-with-ack-back", inner)),
              attachments);
}

void echo::on_disconnect(member& m) { waiting_.erase(std::string(m.id())); }

app::ack_args echo::on_binary_event(member& m, std::string_view name,
                                    std::string_view first_arg_json,
                                    std::vector<std::string> attachments) {
  sio::event_args ev;
  ev.name.assign(name);
  ev.first_arg = first_arg_json;
  ev.args = first_arg_json;
  ev.argc = first_arg_json.empty() ? 0 : 1;
  return on_binary_event(m, ev, -1, std::move(attachments));
}

app::ack_args echo::on_binary_event(member& m, const sio::event_args& ev, int64_t ack_id,
                                    std::vector<std::string> attachments) {
  // The placeholders stay as the client numbered them: the attachments go back in that order.
  if (ack_id < 0 && ev.name == "emit-with-ack") {
    const int64_t id = next_ack_id_++;
    waiting_[std::string(m.id())].push_back(id);
    send_binary(m, sio::encode_binary(sio::packet_type::binary_event, m.nsp(), attachments.size(),
                                      data_array(ev.name, ev.args), id),
                attachments);
    return std::nullopt;
  }
  if (ack_id >= 0) {
    std::string args("[");
    args.append(ev.args).push_back(']');
    send_binary(m, sio::encode_binary(sio::packet_type::binary_ack, m.nsp(), attachments.size(),
                                      args, ack_id),
                attachments);
    return std::nullopt;  // answered here: the session's ACK would be text
  }
  send_binary(m, sio::encode_binary(sio::packet_type::binary_event, m.nsp(), attachments.size(),
                                    data_array(back_name(ev.name), ev.args)),
              attachments);
  return std::nullopt;
}

}  // namespace chatd
