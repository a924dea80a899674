// See echo.h.

#include "worker/echo.h"

#include "common/socketio.h"
#include "common/ws_codec.h"
#include "worker/member.h"

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
  if (ack_id >= 0) {
    ack_.assign("[").append(ev.args).append("]");
    return ack_;
  }
  m.send(make_text_frame({sio::encode_event_args(m.nsp(), back_name(ev.name), ev.args)}));
  return std::nullopt;
}

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
