#pragma once
// Addresses as the Redis links (redis_uv, resp_link) use them: whether a host is an IP literal,
// connected to at once, or a name resolved off the loop first; and which of the resolver's
// answers to try.

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

namespace chatd {

inline bool is_ip_literal(const std::string& host) {
  in6_addr v6{};
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

// One address is tried: IPv4 first, as a "localhost" Redis usually listens on 127.0.0.1
// whatever order the resolver returns; else the first. `res` must not be null.
inline const addrinfo* prefer_ipv4(const addrinfo* res) {
  for (const addrinfo* a = res; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      return a;
    }
  }
  return res;
}

}  // namespace chatd
