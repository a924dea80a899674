// libFuzzer target for Redis Cluster addressing (common/cluster_slot.h): chatd reads MOVED/ASK
// errors and CLUSTER SLOTS replies from every node it talks to. The input is tried three ways:
// - as an error text: a redirection parse_redirect() accepts has a slot below 16384 and a port;
// - as a key: key_slot() is below 16384 and equals the slot of its hash tag, when it has one;
// - as RESP bytes, read by hiredis' reader bounded as resp_link bounds it (worker/resp_reader.h):
//   a CLUSTER SLOTS reply parse_cluster_slots()
//   accepts gives a map whose slot index names only existing shards, each shard's ranges
//   pointing back at it.

#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/cluster_slot.h"
#include "worker/resp_reader.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void try_redirect(std::string_view text) {
  auto r = chatd::parse_redirect(text);
  if (r) {
    check(r->slot < chatd::k_cluster_slots);
    check(r->port != 0);
  }
}

void try_key(std::string_view key) {
  const uint16_t slot = chatd::key_slot(key);
  check(slot < chatd::k_cluster_slots);
  const size_t open = key.find('{');
  const size_t close = open == std::string_view::npos ? open : key.find('}', open + 1);
  if (close != std::string_view::npos && close > open + 1) {
    check(slot == chatd::key_slot(key.substr(open + 1, close - open - 1)));
  }
}

void try_cluster_slots(std::string_view bytes) {
  chatd::reply_budget budget;  // as resp_link reads: a huge array header is refused, not allocated
  redisReader* reader = chatd::create_bounded_reader(&budget);
  if (reader == nullptr) return;
  if (redisReaderFeed(reader, bytes.data(), bytes.size()) == REDIS_OK) {
    void* out = nullptr;
    if (redisReaderGetReply(reader, &out) == REDIS_OK && out != nullptr) {
      auto* reply = static_cast<redisReply*>(out);
      auto m = chatd::parse_cluster_slots(reply, "127.0.0.1");
      if (m) {
        for (size_t slot = 0; slot < chatd::k_cluster_slots; ++slot) {
          const int16_t i = m->shard_of[slot];
          check(i >= -1 && i < static_cast<int16_t>(m->shards.size()));
        }
        for (size_t s = 0; s < m->shards.size(); ++s) {
          for (const auto& r : m->shards[s].ranges) {
            check(r.first <= r.last && r.last < chatd::k_cluster_slots);
            check(m->shard_of[r.first] == static_cast<int16_t>(s));
            check(m->shard_of[r.last] == static_cast<int16_t>(s));
          }
        }
        check(m->same_routing(*m));
      }
      freeReplyObject(reply);
    }
  }
  redisReaderFree(reader);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  try_redirect(input);
  try_key(input);
  try_cluster_slots(input);
  return 0;
}
