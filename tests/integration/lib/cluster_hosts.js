'use strict';
/*
 * Issue 13's deployment on one machine: K chat server hosts and a Redis tier on hosts of their own,
 * each host a network namespace of ./netns.js. Shared by tests/integration/cluster_hosts.test.js
 * and bench/cluster-hosts, so that the test and the benchmark run the same world.
 *
 * Redis tier
 *   'cluster': a 3-master Redis Cluster (./redis_cluster.js) on 3 hosts r1..r3, two nodes each
 *       (ports 7000 and 7001): redis-cli puts each master's replica on another host, as a real
 *       deployment would, and the cluster bus crosses the bridge like the clients' traffic. Three
 *       hosts rather than one "redis" namespace so that a host of the tier can be cut off like a
 *       machine (one master and another master's replica go with it).
 *   'single': one redis-server on host r1 (port 6379), for comparisons.
 * Servers, one per host h1..hK, each of a target:
 *   'chatd': chatd --workers W; cluster: redis {mode: cluster, nodes: <every node's URL>},
 *       single: redis.url (standalone, the classic adapter format)
 *   'node': tests/reference/sharded-server.js on the cluster (createShardedAdapter), or
 *       tests/reference/seed-server.js on the single Redis (createAdapter)
 * Every server listens on <host ip>:8000 (each namespace has its own ports).
 *
 *   clusterTarget() -> 'chatd' | 'node'   CHATD_CLUSTER_TARGET (default chatd; node when
 *       CHATD_TARGET=reference, so that the whole suite against the reference runs no chatd)
 *   startHostsWorld({targets, redis = 'cluster', workers = 2, pingMs, config, readyTimeout})
 *       -> Promise<World>   targets: one per server host, e.g. ['chatd', 'chatd', 'node'];
 *       pingMs: Engine.IO ping interval and timeout of every server (how soon a cut-off client
 *       notices); config: deep-merged into chatd's
 *   World: {net, hosts (server hosts), redisHosts, cluster (null for 'single'), redis (the single
 *       Redis or null), nodes (seed URLs, or [its URL]), servers: [Server + {target, hostLabel}],
 *       urls, unexpectedExits() -> [text] (a server that exited though nobody stopped it),
 *       stop() (servers, Redis, namespaces; idempotent)}
 *   roomsOnEveryShard(cluster, tag, perShard = 1) -> Promise<[{room, channel, slot, master}]>
 *       room names `${tag}-<n>` picked so that each master serves perShard of their channels
 *       (socket.io#/#<room>#, CLUSTER KEYSLOT)
 */

const path = require('node:path');
const { SOURCE_DIR, isReference, deepMerge, startChatd, startRedis, makeServer, waitReady } = require('./harness');
const { createHosts } = require('./netns');
const { startRedisCluster } = require('./redis_cluster');

const SERVER_PORT = 8000;
const SHARDED_SERVER = path.join(SOURCE_DIR, 'tests', 'reference', 'sharded-server.js');
const SEED_SERVER = path.join(SOURCE_DIR, 'tests', 'reference', 'seed-server.js');

function clusterTarget() {
  const t = (process.env.CHATD_CLUSTER_TARGET || (isReference ? 'node' : 'chatd')).toLowerCase();
  if (t !== 'chatd' && t !== 'node') throw new Error(`CHATD_CLUSTER_TARGET must be "chatd" or "node", not "${t}"`);
  return t;
}

async function startNodeServer(net, host, { redis, nodes, pingMs, readyTimeout }) {
  const script = redis === 'cluster' ? SHARDED_SERVER : SEED_SERVER;
  const args = [script, '--host', host.ip, '--port', String(SERVER_PORT),
    ...(redis === 'cluster' ? ['--nodes', nodes.join(',')] : ['--redis', nodes[0]]),
    ...(pingMs ? ['--ping-interval', String(pingMs), '--ping-timeout', String(pingMs)] : [])];
  const proc = net.spawn(host, path.basename(script, '.js'), process.execPath, args);
  const server = makeServer('reference', proc, { port: SERVER_PORT, host: host.ip });
  await waitReady(server, proc, { workers: 1, readyTimeout, label: `${path.basename(script)} on ${host.label}` });
  return server;
}

async function startHostsWorld({ targets, redis = 'cluster', workers = 2, pingMs, config = {}, readyTimeout = 20000 }) {
  const redisLabels = redis === 'cluster' ? ['r1', 'r2', 'r3'] : ['r1'];
  const net = createHosts([...targets.map((_, i) => `h${i + 1}`), ...redisLabels]);
  const hosts = net.hosts.slice(0, targets.length);
  const redisHosts = net.hosts.slice(targets.length);
  const world = { net, hosts, redisHosts, cluster: null, redis: null, nodes: [], servers: [], urls: [] };
  const stoppedByWorld = new Set();
  let stopped = false;
  world.stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const s of world.servers) stoppedByWorld.add(s);
    await Promise.allSettled(world.servers.map((s) => s.cleanup()));
    if (world.cluster) await world.cluster.cleanup().catch(() => {});
    if (world.redis) await world.redis.cleanup().catch(() => {});
    net.teardown();
  };
  world.unexpectedExits = () => world.servers.filter((s) => s.exited && !stoppedByWorld.has(s))
    .map((s) => `${s.target} on ${s.hostLabel} (pid ${s.pid}) exited (code ${s.exited.code}, signal ${s.exited.signal}); log tail:\n${s.logTail(30)}`);
  try {
    if (redis === 'cluster') {
      world.cluster = await startRedisCluster({ masters: 3, hosts: redisHosts, net, readyTimeout });
      world.nodes = world.cluster.seeds;
    } else {
      world.redis = await startRedis({ port: 6379, netns: redisHosts[0] });
      world.nodes = [world.redis.url];
    }
    const eio = pingMs ? { engineio: { ping_interval: pingMs, ping_timeout: pingMs } } : {};
    for (const [i, target] of targets.entries()) {
      const host = hosts[i];
      let server;
      if (target === 'chatd') {
        const redisConfig = redis === 'cluster' ? { redis: { mode: 'cluster', nodes: world.nodes } } : {};
        server = await startChatd({
          netns: host, port: SERVER_PORT, workers, redisUrl: world.nodes[0], readyTimeout,
          config: deepMerge(deepMerge(eio, redisConfig), config),
        });
      } else if (target === 'node') {
        server = await startNodeServer(net, host, { redis, nodes: world.nodes, pingMs, readyTimeout });
      } else {
        throw new Error(`startHostsWorld: unknown target ${target}`);
      }
      server.target = target;
      server.hostLabel = host.label;
      world.servers.push(server);
      world.urls.push(server.url);
    }
  } catch (e) {
    await world.stop();
    throw e;
  }
  return world;
}

async function roomsOnEveryShard(cluster, tag, perShard = 1) {
  const masters = await cluster.masters();
  const want = new Map(masters.map((m) => [m.node, perShard]));
  const out = [];
  for (let n = 0; out.length < masters.length * perShard; n++) {
    if (n > 1000) throw new Error(`roomsOnEveryShard: no spread of ${tag}-<n> over ${masters.length} masters`);
    const room = `${tag}-${n}`;
    const channel = `socket.io#/#${room}#`;
    const { slot, node } = await cluster.ownerOf(channel);
    if (want.get(node) > 0) {
      want.set(node, want.get(node) - 1);
      out.push({ room, channel, slot, master: node });
    }
  }
  return out;
}

module.exports = { SERVER_PORT, clusterTarget, startHostsWorld, roomsOnEveryShard };
