'use strict';
/*
 * The mixed fleet of the fleet_*.test.js files: one redis-server, the server under test (chatd
 * --workers 2, or the reference Node server with 2 cluster workers when CHATD_TARGET=reference)
 * and a stock Node peer (./node_peer.js), all on the same Redis with the classic adapter channels.
 * A file starts one fleet in its top-level test and runs one subtest per behaviour on it; each
 * subtest names its rooms and users after itself (tag) so that what an earlier subtest left
 * behind cannot be counted.
 *
 *   startFleet(t, {workers}) -> {s, redis, server, peer, workers, cluster}   everything stopped in
 *       t.after. With CHATD_FLEET_REDIS=cluster (the it_fleet_*_cluster CTest entries) the same
 *       fleet runs on a 3-master Redis Cluster on loopback: chatd with redis.mode cluster, the
 *       peer on createShardedAdapter (the sharded adapter's format, SSUBSCRIBE/SPUBLISH);
 *       `redis` is then the cluster's first node and `cluster` the ./redis_cluster.js Cluster.
 *   serverClients(s, fleet, {tag, room, n, ...client opts}) -> [Socket]  n clients of the server
 *       under test in `room` (userId `${tag}-c<i>`); against chatd, more (up to n + 20) until both
 *       workers hold one, so that an answer missing from either worker shows
 *   peerClients(s, fleet, {tag, room, n, ...}) -> [Socket]           n clients of the peer
 *       (userId `${tag}-n<i>`), over polling unless told otherwise
 *   assertFast(timed, what)   timed.elapsedMs < FAST_MS: an adapter request that waited for the
 *       5 s requestsTimeout is one some node never answered, even if the result looks complete
 *   sumMetric(port, name) -> total of every sample `name` on GET /metrics (all workers)
 *   assertSameData(actual, expected, what)   deep equality of data with Buffers in it (as
 *       plainData); a failure names the first path that differs and both values there, not two
 *       80 kB dumps
 */

const assert = require('node:assert/strict');
const { scope, getMetrics, isReference, plainData, describeValue, deepMerge, waitFor } = require('./harness');
const { startPeer } = require('./node_peer');
const { slotOf } = require('./process');

const FAST_MS = 1000;
const SPREAD_EXTRA = 20;

const onCluster = process.env.CHATD_FLEET_REDIS === 'cluster';

async function startFleet(t, { workers = 2, config } = {}) {
  const s = scope(t);
  if (onCluster) {
    const { startRedisCluster } = require('./redis_cluster');
    const cluster = await startRedisCluster({ masters: 3 });
    s.defer(() => cluster.cleanup());
    const clusterConfig = deepMerge(config || {}, { redis: { mode: 'cluster', nodes: cluster.seeds } });
    const server = await s.server({ workers, redisUrl: cluster.seeds[0], config: clusterConfig });
    const peer = s.track(await startPeer({ redisUrl: cluster.seeds.join(','), mode: 'sharded' }));
    // Every worker a node of the namespace (its channels subscribed) before a test counts them.
    await waitFor(async () => (await sumMetric(server.port, 'chatd_redis_up')) >= workers,
      { timeout: 15000, interval: 50, message: `chatd_redis_up on all ${workers} workers` });
    // The sharded adapter SSUBSCRIBEs without waiting: the peer is a node once SHARDNUMSUB counts
    // it beside the workers (the serverCount test then checks there is no more).
    await waitFor(async () => (await peer.call('serverCount')).result >= 1 + workers,
      { timeout: 15000, interval: 50, message: 'the Node peer subscribed to the namespace channel' });
    const redis = { url: cluster.seeds[0], port: cluster.nodes[0].port };
    return { s, redis, server, peer, workers, cluster };
  }
  const redis = await s.redis();
  const server = await s.server({ workers, redisUrl: redis.url, ...(config ? { config } : {}) });
  const peer = s.track(await startPeer({ redisUrl: redis.url }));
  return { s, redis, server, peer, workers };
}

async function serverClients(s, fleet, { tag, room, n, ...opts }) {
  const out = [];
  const slots = new Set();
  const spread = () => isReference || fleet.workers < 2 || slots.size >= fleet.workers;
  for (let i = 0; i < n + SPREAD_EXTRA && (i < n || !spread()); i++) {
    const socket = await s.client(fleet.server.url, { channel: room, userId: `${tag}-c${i}`, ...opts });
    if (!isReference) slots.add(slotOf(socket));
    out.push(socket);
  }
  assert.ok(spread(), `clients of ${room} on every chatd worker: slots ${[...slots]}`);
  return out;
}

async function peerClients(s, fleet, { tag, room, n, transports = ['polling'], ...opts }) {
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push(await s.client(fleet.peer.url, { channel: room, userId: `${tag}-n${i}`, transports, ...opts }));
  }
  return out;
}

function assertFast(timed, what) {
  assert.ok(timed.elapsedMs < FAST_MS, `${what} took ${Math.round(timed.elapsedMs)} ms (limit ${FAST_MS}; the adapter ` +
    'gives up after requestsTimeout 5000 ms, so a slow answer means some node did not answer)');
}

async function sumMetric(port, name) {
  const m = await getMetrics(port);
  assert.equal(m.status, 200, 'GET /metrics');
  const samples = m.samples.filter((x) => x.name === name);
  assert.ok(samples.length > 0, `GET /metrics has no ${name}: ${m.text.slice(0, 400)}`);
  return samples.reduce((a, x) => a + x.value, 0);
}

// The first place where a and b (plain data) differ, as [path, a there, b there], or null.
function firstDifference(a, b, at = '$') {
  if (Object.is(a, b)) return null;
  const kind = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  if (kind(a) !== kind(b) || (kind(a) !== 'object' && kind(a) !== 'array')) return [at, a, b];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  for (const k of keys) {
    if (!(k in a) || !(k in b)) return [`${at}.${k}`, a[k], b[k]];
    const d = firstDifference(a[k], b[k], kind(a) === 'array' ? `${at}[${k}]` : `${at}.${k}`);
    if (d) return d;
  }
  return null;
}

function assertSameData(actual, expected, what) {
  const d = firstDifference(plainData(actual), plainData(expected));
  if (d) assert.fail(`${what}: differs at ${d[0]}: got ${describeValue(d[1], 120)}, expected ${describeValue(d[2], 120)}`);
}

module.exports = { FAST_MS, onCluster, startFleet, serverClients, peerClients, assertFast, sumMetric, assertSameData };
