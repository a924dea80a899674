// Redis Cluster's addressing (see cluster_slot.h): key slots, redirections, CLUSTER SLOTS.

#include "common/cluster_slot.h"

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <array>
#include <charconv>

namespace chatd {
namespace {

constexpr std::array<uint16_t, 256> make_crc16_table() {
  std::array<uint16_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i << 8;
    for (int b = 0; b < 8; ++b) {
      crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
    }
    t[i] = static_cast<uint16_t>(crc);
  }
  return t;
}
constexpr std::array<uint16_t, 256> k_crc16_table = make_crc16_table();

template <class T>
bool parse_number(std::string_view text, T& out) {
  if (text.empty()) {
    return false;
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::string_view reply_text(const redisReply* r) {
  return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
             ? std::string_view(r->str, r->len)
             : std::string_view();
}

// [host, port, id?, metadata?]
expected<cluster_node> read_node(const redisReply* r, std::string_view link_host) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
      r->element[1]->type != REDIS_REPLY_INTEGER) {
    return unexpected(std::string("a node is not [host, port, ...]"));
  }
  const redisReply* host = r->element[0];
  if (host->type != REDIS_REPLY_STRING && host->type != REDIS_REPLY_NIL) {
    return unexpected(std::string("a node's host is not a string"));
  }
  const long long port = r->element[1]->integer;
  if (port <= 0 || port > 65535) {
    return unexpected(fmt::format("a node's port is {}", port));
  }
  cluster_node n;
  std::string_view h = reply_text(host);
  n.host = h.empty() || h == "?" ? std::string(link_host) : std::string(h);
  n.port = static_cast<uint16_t>(port);
  if (r->elements >= 3) {
    n.id = std::string(reply_text(r->element[2]));
  }
  return n;
}

}  // namespace

uint16_t crc16_xmodem(std::string_view data) {
  uint16_t crc = 0;
  for (unsigned char c : data) {
    crc = static_cast<uint16_t>((crc << 8) ^ k_crc16_table[((crc >> 8) ^ c) & 0xff]);
  }
  return crc;
}

uint16_t key_slot(std::string_view key) {
  const size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return crc16_xmodem(key) & (k_cluster_slots - 1);
}

std::string cluster_node::address() const {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                              : fmt::format("{}:{}", host, port);
}

std::optional<redirect> parse_redirect(std::string_view text) {
  if (!text.empty() && text.front() == '-') {
    text.remove_prefix(1);
  }
  redirect r;
  if (text.starts_with("MOVED ")) {
    r.kind = redirect_kind::moved;
    text.remove_prefix(6);
  } else if (text.starts_with("ASK ")) {
    r.kind = redirect_kind::ask;
    text.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const size_t space = text.find(' ');
  unsigned slot = 0;
  if (space == std::string_view::npos || !parse_number(text.substr(0, space), slot) ||
      slot >= k_cluster_slots) {
    return std::nullopt;
  }
  r.slot = static_cast<uint16_t>(slot);
  std::string_view where = text.substr(space + 1);
  while (!where.empty() && (where.back() == '\r' || where.back() == '\n' || where.back() == ' ')) {
    where.remove_suffix(1);
  }
  // The port follows the last ':' (an IPv6 host has colons of its own, bracketed or not).
  const size_t colon = where.rfind(':');
  unsigned port = 0;
  if (colon == std::string_view::npos || !parse_number(where.substr(colon + 1), port) ||
      port == 0 || port > 65535) {
    return std::nullopt;
  }
  std::string_view host = where.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.find(' ') != std::string_view::npos) {
    return std::nullopt;
  }
  r.host = std::string(host);
  r.port = static_cast<uint16_t>(port);
  return r;
}

bool cluster_map::complete() const {
  for (int16_t i : shard_of) {
    if (i < 0) {
      return false;
    }
  }
  return true;
}

bool cluster_map::same_routing(const cluster_map& o) const {
  if (shards.size() != o.shards.size()) {
    return false;
  }
  for (size_t s = 0; s < k_cluster_slots; ++s) {
    const cluster_shard* a = shard_for_slot(static_cast<uint16_t>(s));
    const cluster_shard* b = o.shard_for_slot(static_cast<uint16_t>(s));
    if ((a == nullptr) != (b == nullptr) ||
        (a != nullptr && !a->master.same_address(b->master))) {
      return false;
    }
  }
  return true;
}

expected<cluster_map> build_cluster_map(const std::vector<slots_entry>& entries) {
  cluster_map m;
  for (const slots_entry& e : entries) {
    if (e.nodes.empty()) {
      return unexpected(fmt::format("slots {}-{} have no node", e.range.first, e.range.last));
    }
    if (e.range.first > e.range.last || e.range.last >= k_cluster_slots) {
      return unexpected(fmt::format("bad slot range {}-{}", e.range.first, e.range.last));
    }
    size_t index = 0;
    while (index < m.shards.size() && !m.shards[index].master.same_address(e.nodes.front())) {
      ++index;
    }
    if (index == m.shards.size()) {
      if (m.shards.size() >= static_cast<size_t>(INT16_MAX)) {
        return unexpected(std::string("too many shards"));
      }
      cluster_shard s;
      s.master = e.nodes.front();
      m.shards.push_back(std::move(s));
    }
    cluster_shard& shard = m.shards[index];
    for (size_t i = 1; i < e.nodes.size(); ++i) {
      bool known = false;
      for (const cluster_node& r : shard.replicas) {
        known = known || r.same_address(e.nodes[i]);
      }
      if (!known) {
        shard.replicas.push_back(e.nodes[i]);
      }
    }
    shard.ranges.push_back(e.range);
    for (uint32_t slot = e.range.first; slot <= e.range.last; ++slot) {
      if (m.shard_of[slot] >= 0) {
        return unexpected(fmt::format("slot {} is claimed twice", slot));
      }
      m.shard_of[slot] = static_cast<int16_t>(index);
    }
  }
  return m;
}

expected<std::vector<slots_entry>> read_cluster_slots(const redisReply* reply,
                                                      std::string_view link_host) {
  if (reply == nullptr) {
    return unexpected(std::string("no reply"));
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    return unexpected(
        fmt::format("CLUSTER SLOTS refused: {}", std::string_view(reply->str, reply->len)));
  }
  if (reply->type != REDIS_REPLY_ARRAY) {
    return unexpected(std::string("CLUSTER SLOTS did not answer an array"));
  }
  std::vector<slots_entry> entries;
  entries.reserve(reply->elements);
  for (size_t i = 0; i < reply->elements; ++i) {
    const redisReply* e = reply->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
        e->element[0]->type != REDIS_REPLY_INTEGER || e->element[1]->type != REDIS_REPLY_INTEGER) {
      return unexpected(fmt::format("CLUSTER SLOTS entry {} is not [first, last, master, ...]", i));
    }
    const long long first = e->element[0]->integer;
    const long long last = e->element[1]->integer;
    if (first < 0 || last < first || last >= k_cluster_slots) {
      return unexpected(fmt::format("CLUSTER SLOTS entry {}: bad range {}-{}", i, first, last));
    }
    slots_entry out;
    out.range = {static_cast<uint16_t>(first), static_cast<uint16_t>(last)};
    for (size_t n = 2; n < e->elements; ++n) {
      auto node = read_node(e->element[n], link_host);
      if (!node) {
        return unexpected(fmt::format("CLUSTER SLOTS entry {}: {}", i, node.error()));
      }
      out.nodes.push_back(std::move(*node));
    }
    entries.push_back(std::move(out));
  }
  return entries;
}

expected<cluster_map> parse_cluster_slots(const redisReply* reply, std::string_view link_host) {
  auto entries = read_cluster_slots(reply, link_host);
  if (!entries) {
    return unexpected(entries.error());
  }
  return build_cluster_map(*entries);
}

}  // namespace chatd
