// Integration tests of the Redis Cluster transport (worker/shard_pubsub, worker/cluster_topology)
// against a six-node cluster (three masters, one replica each) on loopback ports for shard_pubsub,
// started once for the whole binary (redis-cli --cluster create) and killed by PID at exit.
// The cluster tests run in file order and share it: the slot-move test moves one slot, the
// failover test, last, kills a master. A redis-server without cluster support skips them
// ("CHATD_SKIP: "). Every wait is bounded; every test ends with no handle left on its loop.

#include "common/cluster_slot.h"
#include "common/config.h"
#include "common/stats.h"
#include "tests/integration/redis_test_util.h"
#include "worker/shard_pubsub.h"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#ifndef CHATD_REDIS_CLI
#define CHATD_REDIS_CLI "/usr/bin/redis-cli"
#endif

using namespace chatd;
using namespace chatd::test;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// ------------------------------------------------------------------ the cluster

struct cluster_node_proc {
  uint16_t port = 0;
  std::string id;
  child_process proc;
};

class redis_cluster {
 public:
  ~redis_cluster() {
    nodes.clear();  // killed by PID
    if (!dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }

  // Starts six nodes and joins them; "" when up, else why not. `skip` when redis-server has no
  // cluster support.
  std::string start(bool& skip) {
    char tmpl[] = "/tmp/chatd-cluster-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return "mkdtemp failed";
    dir = tmpl;
    for (int i = 0; i < 6; ++i) {
      auto n = std::make_unique<cluster_node_proc>();
      n->port = free_port();
      const std::string port = std::to_string(n->port);
      const std::string bus_port = std::to_string(free_port());
      const std::string log = dir + "/redis-" + port + ".log";
      n->proc.spawn({CHATD_REDIS_SERVER, "--port", port, "--bind", "127.0.0.1",
                     "--cluster-enabled", "yes", "--cluster-config-file",
                     dir + "/nodes-" + port + ".conf", "--cluster-port", bus_port,
                     // Quick failure detection and failover; the other shards keep serving
                     // while one has no master.
                     // (a replica's data counts as fresh whatever its age: an idle master pings
                     // it only every repl-ping-replica-period)
                     "--cluster-node-timeout", "1000", "--cluster-replica-validity-factor", "0",
                     "--repl-ping-replica-period", "1", "--cluster-require-full-coverage", "no",
                     "--cluster-allow-replica-migration", "no", "--dir", dir, "--save", "",
                     "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"},
                    log);
      if (!wait_listening(n->port, n->proc)) {
        const std::string text = read_text(log);
        if (text.find("cluster") != std::string::npos || text.find("Bad directive") != std::string::npos) {
          skip = true;
          return "redis-server has no cluster support: " + text.substr(0, 300);
        }
        return "redis-server on port " + port + " did not start: " + text.substr(0, 300);
      }
      n->id = sync_client(n->port).text({"CLUSTER", "MYID"});
      nodes.push_back(std::move(n));
    }
    std::vector<std::string> create = {CHATD_REDIS_CLI, "--cluster", "create"};
    for (const auto& n : nodes) create.push_back("127.0.0.1:" + std::to_string(n->port));
    for (const char* a : {"--cluster-replicas", "1", "--cluster-yes"}) create.emplace_back(a);
    child_process cli;
    cli.spawn(create, dir + "/create.log");
    if (cli.wait(30000) != 0) return "redis-cli --cluster create failed: " + read_text(dir + "/create.log");
    if (!wait_ok(20000)) return "the cluster did not reach cluster_state:ok";
    return {};
  }

  bool wait_ok(uint64_t bound_ms) {
    for (uint64_t waited = 0; waited < bound_ms; waited += 50) {
      bool all = true;
      for (const auto& n : nodes) {
        if (n->proc.pid() < 0) continue;
        all = all && sync_client(n->port).text({"CLUSTER", "INFO"}).find("cluster_state:ok") !=
                         std::string::npos;
      }
      if (all) return true;
      usleep(50000);
    }
    return false;
  }

  // The map as a live node tells it.
  cluster_map map() {
    for (const auto& n : nodes) {
      if (n->proc.pid() < 0) continue;
      auto r = sync_client(n->port).run({"CLUSTER", "SLOTS"});
      auto m = parse_cluster_slots(r.get(), "127.0.0.1");
      if (m) return *m;
    }
    return {};
  }

  cluster_node_proc* node(uint16_t port) {
    for (auto& n : nodes) {
      if (n->port == port) return n.get();
    }
    return nullptr;
  }

  std::string dir;
  std::vector<std::unique_ptr<cluster_node_proc>> nodes;
};

// The binary's one cluster, started by the first test that needs it, killed (by PID) and its
// directory removed when the binary exits.
struct shared_cluster {
  redis_cluster cluster;
  std::string error;
  bool skip = false;
};
shared_cluster& the_cluster() {
  static shared_cluster c;
  static bool started = false;
  if (!started) {
    started = true;
    c.error = c.cluster.start(c.skip);
  }
  return c;
}

// Opens each cluster test: skips it without cluster support, else defines `cluster`, `m` (its
// map now), `masters` (their ports, in map order), quiet logs and a `loop` the test closes.
#define CLUSTER_TEST()                                             \
  shared_cluster& sc = the_cluster();                              \
  if (sc.skip) {                                                   \
    MESSAGE("CHATD_SKIP: " << sc.error);                           \
    return;                                                        \
  }                                                                \
  REQUIRE_MESSAGE(sc.error.empty(), sc.error);                     \
  redis_cluster& cluster = sc.cluster;                             \
  quiet_logs quiet;                                                \
  const cluster_map m = cluster.map();                             \
  REQUIRE(m.shards.size() == 3);                                   \
  const std::vector<uint16_t> masters = master_ports(m);           \
  uv_loop_t loop{};                                                \
  uv_loop_init(&loop)

config cluster_config(std::vector<uint16_t> seed_ports) {
  config cfg;
  cfg.redis_cluster = true;
  cfg.redis_connect_timeout_ms = 1000;
  cfg.redis_reconnect_max_ms = 300;
  for (uint16_t p : seed_ports) {
    redis_endpoint e;
    e.host = "127.0.0.1";
    e.port = p;
    cfg.redis_seeds.push_back(e);
  }
  cfg.redis = cfg.redis_seeds.front();
  return cfg;
}

// A channel name "<prefix>-<n>" whose slot the master on `master_port` serves.
std::string channel_on(const cluster_map& m, uint16_t master_port, const std::string& prefix) {
  for (int i = 0; i < 100000; ++i) {
    std::string ch = fmt::format("{}-{}", prefix, i);
    const cluster_shard* s = m.shard_for_key(ch);
    if (s != nullptr && s->master.port == master_port) return ch;
  }
  return {};
}

// PUBSUB SHARDNUMSUB `channel` asked of the node on `port`; -1 without an answer.
long long shardnumsub_at(uint16_t port, const std::string& channel) {
  auto r = sync_client(port).run({"PUBSUB", "SHARDNUMSUB", channel});
  return r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[1]->integer
                                                                          : -1;
}

std::vector<uint16_t> master_ports(const cluster_map& m) {
  std::vector<uint16_t> out;
  for (const auto& s : m.shards) out.push_back(s.master.port);
  return out;
}

// One worker's shard_pubsub and what it heard.
struct worker {
  worker_stats stats;
  std::vector<std::pair<std::string, std::string>> got;
  std::map<std::string, int> subscribed;  // on_subscribed calls per channel
  std::vector<bool> states;
  std::function<void()> after_message;
  std::unique_ptr<shard_pubsub> ps;

  worker(uv_loop_t* loop, const config& cfg, const std::string& name) {
    ps = std::make_unique<shard_pubsub>(
        loop, cfg, name, &stats,
        shard_pubsub::callbacks{
            [this](std::string_view ch, std::string_view payload) {
              got.emplace_back(ch, payload);
              if (after_message) after_message();
            },
            [this](std::string_view ch) { ++subscribed[std::string(ch)]; },
            [this](bool up) { states.push_back(up); }});
    ps->start();
  }
  size_t count(const std::string& ch) const {
    size_t n = 0;
    for (const auto& [c, p] : got) n += c == ch ? 1 : 0;
    return n;
  }
  bool has(const std::string& ch, const std::string& payload) const {
    for (const auto& [c, p] : got) {
      if (c == ch && p == payload) return true;
    }
    return false;
  }
};

}  // namespace

// ------------------------------------------------------------------ the cluster

TEST_SUITE_BEGIN("cluster");

TEST_CASE("shard_pubsub: channels on all three shards are subscribed, confirmed and delivered") {
  CLUSTER_TEST();
  {
    worker a(&loop, cluster_config({masters[0], masters[1]}), "worker a");
    // A dead seed first: the map comes from the next one.
    worker b(&loop, cluster_config({free_port(), masters[2]}), "worker b");
    std::vector<std::string> channels;
    for (uint16_t p : masters) channels.push_back(channel_on(m, p, "all"));
    for (const auto& ch : channels) a.ps->subscribe(ch);
    REQUIRE(run_until(&loop, [&] {
      for (const auto& ch : channels) {
        if (!a.ps->confirmed(ch)) return false;
      }
      return true;
    }));
    for (const auto& ch : channels) CHECK(a.subscribed[ch] == 1);
    CHECK(a.ps->shards_in_use() == 3);
    CHECK(a.ps->up());
    REQUIRE(!a.states.empty());
    CHECK(a.states.back());

    REQUIRE(run_until(&loop, [&] { return b.ps->up(); }));
    // Known map, no shard used yet: up, and no channel counts as down.
    CHECK(b.ps->shards_in_use() == 0);
    for (const auto& ch : channels) CHECK(b.ps->channel_up(ch));
    // The first publishes wait for the links they need.
    for (const auto& ch : channels) CHECK(b.ps->publish(ch, "hello " + ch));
    REQUIRE(run_until(&loop, [&] { return a.got.size() == channels.size(); }));
    for (const auto& ch : channels) CHECK(a.has(ch, "hello " + ch));
    CHECK(b.ps->shards_in_use() == 3);
    for (const auto& ch : channels) CHECK(b.ps->channel_up(ch));

    // Reference-counted: a second subscribe sends nothing, the channel stays after one unsubscribe.
    a.ps->subscribe(channels[0]);
    a.ps->unsubscribe(channels[0]);
    CHECK(a.ps->confirmed(channels[0]));
    a.ps->unsubscribe(channels[0]);
    CHECK_FALSE(a.ps->confirmed(channels[0]));
    REQUIRE(run_until(&loop, [&] {
      return shardnumsub_at(masters[0], channels[0]) == 0;  // the SUNSUBSCRIBE went out
    }));
    CHECK(shardnumsub_at(masters[1], channels[1]) == 1);
    a.ps->stop();
    b.ps->stop();
  }
  CHECK(close_loop(&loop) == 0);
}

TEST_CASE("shard_pubsub: a plain redis-cli SPUBLISH reaches on_message") {
  CLUSTER_TEST();
  {
    worker a(&loop, cluster_config({masters[0]}), "worker a");
    const std::string ch = channel_on(m, masters[1], "cli");
    a.ps->subscribe(ch);
    REQUIRE(run_until(&loop, [&] { return a.ps->confirmed(ch); }));
    child_process cli;
    cli.spawn({CHATD_REDIS_CLI, "-p", std::to_string(masters[1]), "SPUBLISH", ch, "from redis-cli"});
    CHECK(cli.wait(5000) == 0);
    REQUIRE(run_until(&loop, [&] { return !a.got.empty(); }));
    CHECK(a.has(ch, "from redis-cli"));
    a.ps->stop();
  }
  CHECK(close_loop(&loop) == 0);
}

TEST_CASE("shard_pubsub: command() routes keys to their shards; shardnumsub counts subscribers") {
  CLUSTER_TEST();
  {
    worker a(&loop, cluster_config({masters[0]}), "worker a");
    worker b(&loop, cluster_config({masters[1]}), "worker b");
    REQUIRE(run_until(&loop, [&] { return a.ps->up() && b.ps->up(); }));
    std::vector<std::string> keys;
    for (uint16_t p : masters) keys.push_back(channel_on(m, p, "stream"));
    int answered = 0;
    for (const auto& k : keys) {
      for (int i = 0; i < 3; ++i) {
        a.ps->command(k, {"XADD", k, "*", "n", std::to_string(i)}, [&](const redisReply* r) {
          CHECK(r != nullptr);
          if (r != nullptr) CHECK(r->type == REDIS_REPLY_STRING);
          ++answered;
        });
      }
    }
    REQUIRE(run_until(&loop, [&] { return answered == 9; }));
    std::vector<long long> lengths;
    for (const auto& k : keys) {
      a.ps->command(k, {"XLEN", k}, [&](const redisReply* r) {
        lengths.push_back(r != nullptr && r->type == REDIS_REPLY_INTEGER ? r->integer : -1);
      });
    }
    REQUIRE(run_until(&loop, [&] { return lengths.size() == 3; }));
    CHECK(lengths == std::vector<long long>{3, 3, 3});
    // Each stream is on the node owning its slot, and only there.
    for (size_t i = 0; i < keys.size(); ++i) {
      CHECK(sync_client(masters[i]).integer({"XLEN", keys[i]}) == 3);
    }
    CHECK(a.ps->shards_in_use() == 3);

    const std::string ch = channel_on(m, masters[2], "numsub");
    a.ps->subscribe(ch);
    b.ps->subscribe(ch);
    REQUIRE(run_until(&loop, [&] { return a.ps->confirmed(ch) && b.ps->confirmed(ch); }));
    long long count = -2;
    a.ps->shardnumsub(ch, [&](long long n) { count = n; });
    REQUIRE(run_until(&loop, [&] { return count != -2; }));
    CHECK(count == 2);
    long long none = -2;
    a.ps->shardnumsub(channel_on(m, masters[0], "numsub-none"), [&](long long n) { none = n; });
    REQUIRE(run_until(&loop, [&] { return none != -2; }));
    CHECK(none == 0);

    // After stop(): commands fail at once, nothing is delivered.
    a.ps->stop();
    bool failed = false;
    a.ps->command(keys[0], {"XLEN", keys[0]}, [&](const redisReply* r) { failed = r == nullptr; });
    CHECK(failed);
    CHECK_FALSE(a.ps->publish(ch, "x"));
    CHECK_FALSE(a.ps->up());
    b.ps->stop();
  }
  CHECK(close_loop(&loop) == 0);
}

TEST_CASE("shard_pubsub: pipelined publishes arrive complete and in order") {
  CLUSTER_TEST();
  {
    worker a(&loop, cluster_config({masters[0]}), "worker a");
    worker b(&loop, cluster_config({masters[0]}), "worker b");
    const std::string ch = channel_on(m, masters[1], "burst");
    a.ps->subscribe(ch);
    REQUIRE(run_until(&loop, [&] { return a.ps->confirmed(ch) && b.ps->up(); }));
    // b's links to the shard first: publishes before them wait, k_max_parked at most.
    CHECK(b.ps->publish(ch, "warm-up"));
    REQUIRE(run_until(&loop, [&] { return a.got.size() == 1; }));
    a.got.clear();
    constexpr int k_total = 50000;
    constexpr int k_per_iteration = 1000;
    const std::string pad(90, 'x');
    uv_update_time(&loop);
    const uint64_t began = uv_now(&loop);
    int sent = 0;
    bool refused = false;
    REQUIRE(run_until(&loop, [&] {
      for (int i = 0; i < k_per_iteration && sent < k_total; ++i, ++sent) {
        refused = !b.ps->publish(ch, fmt::format("{:08}{}", sent, pad)) || refused;
      }
      return a.got.size() == static_cast<size_t>(k_total);
    }));
    uv_update_time(&loop);
    const uint64_t took = std::max<uint64_t>(1, uv_now(&loop) - began);
    MESSAGE(k_total, " SPUBLISH of 98 bytes, published and delivered in ", took, " ms (",
            k_total * 1000 / took, "/s, one worker each side, ASan builds slower)");
    CHECK_FALSE(refused);
    bool ordered = true;
    for (int i = 0; i < k_total; ++i) ordered = ordered && a.got[i].second.starts_with(fmt::format("{:08}", i));
    CHECK(ordered);
    a.ps->stop();
    b.ps->stop();
  }
  CHECK(close_loop(&loop) == 0);
}

TEST_CASE("shard_pubsub: stop() from inside on_message is safe and ends delivery") {
  CLUSTER_TEST();
  {
    worker a(&loop, cluster_config({masters[0]}), "worker a");
    const std::string ch = channel_on(m, masters[0], "stop");
    a.ps->subscribe(ch);
    REQUIRE(run_until(&loop, [&] { return a.ps->confirmed(ch); }));
    a.after_message = [&] { a.ps->stop(); };
    sync_client c(masters[0]);
    for (int i = 0; i < 5; ++i) c.run({"SPUBLISH", ch, std::to_string(i)});  // one read, say
    REQUIRE(run_until(&loop, [&] { return !a.got.empty(); }));
    run_for(&loop, 100);
    CHECK(a.got.size() == 1);
  }
  CHECK(close_loop(&loop) == 0);
}

TEST_CASE("shard_pubsub: a slot moved: publishes and commands follow ASK and MOVED, the subscription moves") {
  CLUSTER_TEST();
  const uint16_t source = masters[0];
  const uint16_t target = masters[1];
  const std::string source_id = cluster.node(source)->id;
  const std::string target_id = cluster.node(target)->id;
  {
    worker a(&loop, cluster_config({masters[2]}), "worker a");
    // Seeded with one node only; its map goes stale when the slot moves.
    worker b(&loop, cluster_config({masters[2]}), "worker b");
    const std::string ch = channel_on(m, source, "moving");
    const uint16_t slot = key_slot(ch);
    const std::string key = "{" + ch + "}:stream";
    REQUIRE(key_slot(key) == slot);
    a.ps->subscribe(ch);
    REQUIRE(run_until(&loop, [&] { return a.ps->confirmed(ch) && b.ps->up(); }));
    CHECK(b.ps->publish(ch, "before"));
    REQUIRE(run_until(&loop, [&] { return a.has(ch, "before"); }));

    // Migration under way: the source answers ASK for a key it does not have.
    const std::string s = std::to_string(slot);
    REQUIRE(sync_client(target).text({"CLUSTER", "SETSLOT", s, "IMPORTING", source_id}) == "OK");
    REQUIRE(sync_client(source).text({"CLUSTER", "SETSLOT", s, "MIGRATING", target_id}) == "OK");
    std::string added;
    b.ps->command(key, {"XADD", key, "*", "f", "v"}, [&](const redisReply* r) {
      added = r == nullptr ? "null" : std::string(r->str, r->len);
    });
    REQUIRE(run_until(&loop, [&] { return !added.empty(); }));
    CHECK(added.find('-') != std::string::npos);  // an entry id, not an error
    CHECK(sync_client(target).run({"ASKING"}) != nullptr);

    // The slot moves: target first, then the source, then the others.
    REQUIRE(sync_client(target).text({"CLUSTER", "SETSLOT", s, "NODE", target_id}) == "OK");
    REQUIRE(sync_client(source).text({"CLUSTER", "SETSLOT", s, "NODE", target_id}) == "OK");
    for (uint16_t p : masters) {
      if (p != source && p != target) sync_client(p).text({"CLUSTER", "SETSLOT", s, "NODE", target_id});
    }
    // Redis unsubscribes the channel on the source; the worker subscribes at the target.
    REQUIRE(run_until(&loop, [&] { return a.subscribed[ch] == 2 && a.ps->confirmed(ch); }));
    REQUIRE(run_until(&loop, [&] { return shardnumsub_at(target, ch) == 1; }));

    // b's map still names the source: the publish and the command are MOVED to the target.
    REQUIRE(b.ps->map() != nullptr);
    CHECK(b.ps->map()->shard_for_slot(slot)->master.port == source);
    CHECK(b.ps->publish(ch, "after the move"));
    long long length = -2;
    b.ps->command(key, {"XLEN", key}, [&](const redisReply* r) {
      length = r != nullptr && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    });
    REQUIRE(run_until(&loop, [&] { return a.has(ch, "after the move") && length != -2; }));
    CHECK(length == 1);
    // ... and the MOVED refreshed its map.
    REQUIRE(run_until(&loop, [&] { return b.ps->map()->shard_for_slot(slot)->master.port == target; }));
    a.ps->stop();
    b.ps->stop();
  }
  CHECK(close_loop(&loop) == 0);
}

TEST_CASE("shard_pubsub: a master that stops answering: the stall PING drops its links, the channel follows the promoted replica") {
  CLUSTER_TEST();
  const uint16_t frozen_port = masters[1];
  {
    worker a(&loop, cluster_config({masters[0]}), "worker a");
    worker b(&loop, cluster_config({masters[0]}), "worker b");
    const std::string frozen = channel_on(m, frozen_port, "frozen");
    const std::string steady = channel_on(m, masters[0], "steady-while-frozen");
    a.ps->subscribe(frozen);
    a.ps->subscribe(steady);
    REQUIRE(run_until(&loop, [&] {
      return a.ps->confirmed(frozen) && a.ps->confirmed(steady) && b.ps->up();
    }));
    CHECK(b.ps->publish(frozen, "before"));  // b's links to the shard exist from here
    REQUIRE(run_until(&loop, [&] { return a.has(frozen, "before") && b.ps->channel_up(frozen); }));
    // SIGSTOP: the node keeps its TCP connections and answers nothing; the cluster fails it
    // over after cluster-node-timeout; only the PING tells the workers.
    cluster.node(frozen_port)->proc.signal(SIGSTOP);
    int n = 0;
    REQUIRE(run_until(
        &loop,
        [&] {
          CHECK(b.ps->publish(steady, std::to_string(++n)));
          b.ps->publish(frozen, "lost, maybe");  // refused while down; makes b use the new master
          run_for(&loop, 20);
          return a.subscribed[frozen] >= 2 && a.ps->confirmed(frozen) && b.ps->channel_up(frozen);
        },
        30000));
    CHECK(a.count(steady) > 10);
    CHECK(a.ps->map()->shard_for_key(frozen)->master.port != frozen_port);
    CHECK(b.ps->publish(frozen, "thawed"));
    REQUIRE(run_until(&loop, [&] { return a.has(frozen, "thawed"); }));
    a.ps->stop();
    b.ps->stop();
  }
  cluster.node(frozen_port)->proc.kill_now();  // SIGKILL ends a stopped process too
  CHECK(close_loop(&loop) == 0);
}

TEST_CASE("shard_pubsub: a killed master: the replica takes over, the channel is subscribed again, other shards keep working") {
  CLUSTER_TEST();
  const uint16_t victim = masters[2];
  {
    worker a(&loop, cluster_config({masters[0], masters[1], masters[2]}), "worker a");
    worker b(&loop, cluster_config({masters[0], masters[1], masters[2]}), "worker b");
    const std::string lost = channel_on(m, victim, "failover");
    const std::string kept1 = channel_on(m, masters[0], "steady");
    const std::string kept2 = channel_on(m, masters[1], "steady");
    for (const auto& ch : {lost, kept1, kept2}) a.ps->subscribe(ch);
    REQUIRE(run_until(&loop, [&] {
      return a.ps->confirmed(lost) && a.ps->confirmed(kept1) && a.ps->confirmed(kept2) &&
             b.ps->up();
    }));
    int n = 0;
    bool kept_refused = false;
    auto pump = [&] {  // a publish to each channel; the kept ones must never be refused
      ++n;
      kept_refused = !b.ps->publish(kept1, std::to_string(n)) || kept_refused;
      kept_refused = !b.ps->publish(kept2, std::to_string(n)) || kept_refused;
      b.ps->publish(lost, std::to_string(n));
    };
    for (int i = 0; i < 5; ++i) {
      pump();
      run_for(&loop, 20);
    }
    REQUIRE(run_until(&loop, [&] { return a.count(kept1) == 5 && a.count(lost) == 5; }));

    cluster.node(victim)->proc.kill_now();  // SIGKILL by PID
    const size_t kept_before = a.count(kept1) + a.count(kept2);
    uv_update_time(&loop);
    const uint64_t killed_at = uv_now(&loop);
    REQUIRE(run_until(
        &loop,
        [&] {
          pump();
          run_for(&loop, 20);
          return a.subscribed[lost] >= 2 && a.ps->confirmed(lost) && b.ps->channel_up(lost);
        },
        30000));
    uv_update_time(&loop);
    MESSAGE("failover seen by the workers after ", uv_now(&loop) - killed_at, " ms");
    CHECK_FALSE(kept_refused);
    CHECK(a.count(kept1) + a.count(kept2) > kept_before + 10);  // delivered throughout
    CHECK(a.ps->channel_up(kept1));
    CHECK(a.ps->channel_up(lost));
    CHECK(a.ps->map()->shard_for_key(lost)->master.port != victim);

    CHECK(b.ps->publish(lost, "after the failover"));
    REQUIRE(run_until(&loop, [&] { return a.has(lost, "after the failover"); }));
    CHECK(a.stats.bus_reconnects_total.load() > 0);
    a.ps->stop();
    b.ps->stop();
  }
  CHECK(close_loop(&loop) == 0);
}

TEST_SUITE_END();
