// Redis channel names of @socket.io/redis-adapter: "<prefix>#<nsp>#" for broadcasts to several
// rooms, "<prefix>#<nsp>#<room>#" for one room, and the test that reads a room back out of one;
// "<prefix>-request#<nsp>#" and "<prefix>-response#<nsp>#[<uid>#]" for the request channel.

#include "common/bus_request.h"
#include "common/bus_wire.h"

namespace chatd::wire {

std::string broadcast_channel(std::string_view prefix, std::string_view nsp) {
  std::string out;
  out.reserve(prefix.size() + nsp.size() + 2);
  out.append(prefix).append("#").append(nsp).append("#");
  return out;
}

std::string request_channel(std::string_view prefix, std::string_view nsp) {
  return broadcast_channel(std::string(prefix) + "-request", nsp);
}

std::string response_channel(std::string_view prefix, std::string_view nsp) {
  return broadcast_channel(std::string(prefix) + "-response", nsp);
}

std::string specific_response_channel(std::string_view prefix, std::string_view nsp,
                                      std::string_view uid) {
  return response_channel(prefix, nsp).append(uid).append("#");
}

std::string room_channel(std::string_view prefix, std::string_view nsp, std::string_view room) {
  std::string out = broadcast_channel(prefix, nsp);
  out.append(room).append("#");
  return out;
}

std::optional<std::string> room_of_channel(std::string_view channel, std::string_view prefix,
                                           std::string_view nsp) {
  // Matches the adapter's own test: the channel starts with "<prefix>#<nsp>#"; what follows,
  // minus the closing '#', is the room (a room may itself contain '#').
  const size_t base = prefix.size() + nsp.size() + 2;
  if (channel.size() < base || channel.substr(0, prefix.size()) != prefix ||
      channel[prefix.size()] != '#' || channel.substr(prefix.size() + 1, nsp.size()) != nsp ||
      channel[base - 1] != '#') {
    return std::nullopt;
  }
  std::string_view rest = channel.substr(base);
  if (rest.empty()) {
    return std::string();
  }
  if (rest.back() != '#') {
    return std::nullopt;
  }
  rest.remove_suffix(1);
  return std::string(rest);
}

}  // namespace chatd::wire
