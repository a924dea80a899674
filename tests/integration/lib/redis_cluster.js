'use strict';
/*
 * A real Redis Cluster for the tests and benchmarks of chatd's `redis.mode: cluster` (issue 13):
 * N masters with one replica each, created with redis-cli --cluster create, on loopback or on the
 * hosts of ./netns.js. It exists so that "a master died and its replica took over" is something a
 * test does by PID and then waits for with a bound, not something it hopes for.
 *
 *   startRedisCluster({masters = 3, hosts, net, nodeTimeout = 1000, readyTimeout = 30000})
 *       -> Promise<Cluster>   2 * masters redis-server 7 processes (--cluster-enabled yes,
 *       --cluster-node-timeout nodeTimeout, own config file and directory under $TMPDIR,
 *       --save '' --appendonly no); without `hosts` all on 127.0.0.1 (free ports, the bus port
 *       chosen too); with `hosts` (./netns.js hosts, and `net` their Net) node i runs in
 *       hosts[i % hosts.length], bound to its IP, on port 7000 + floor(i / hosts.length) (bus
 *       port + 10000). redis-cli places each replica on another host than its master when there
 *       are several. Resolves once every node says cluster_state:ok, all agree on the slots and
 *       every replica's link to its master is up.
 *   Cluster
 *     nodes: [Node]          every node ever started, in start order
 *     seeds: [url]           redis://ip:port of every node (chatd's redis.nodes)
 *     command(node, ...args) -> Promise<reply>     one command to one node
 *     masters() -> Promise<[{node, slots: [[first, last]], replicas: [Node]}]>   from CLUSTER SLOTS
 *     slotOf(key) -> Promise<number>               CLUSTER KEYSLOT
 *     ownerOf(key) -> Promise<{slot, node}>        the master serving key's slot now
 *     killMaster(node, {timeout}) -> Promise<{promoted: Node, elapsedMs}>   SIGKILL by PID, then
 *         waits for one of its replicas to serve its slots and for cluster_state:ok everywhere
 *     restart(node)          starts a stopped node again (same port and cluster config: it rejoins)
 *     waitHealthy({timeout}) every running node cluster_state:ok, one view of the slots, each
 *         slot on a running master
 *     stop() / cleanup()     SIGTERM every node (SIGKILL after 5 s); cleanup also removes the files
 *   Node: {ip, port, url, label ("ip:port"), host (or null), pid (null when not running), running,
 *     logs, logTail(n)}
 */

const fs = require('node:fs');
const path = require('node:path');
const { spawnLogged, redisCommand, waitFor, freePort, makeTempDir, sleep } = require('./harness');

const REDIS_SERVER = process.env.REDIS_SERVER || '/usr/bin/redis-server';
const REDIS_CLI = process.env.REDIS_CLI || path.join(path.dirname(REDIS_SERVER), 'redis-cli');
const SLOTS = 16384;

function parseInfo(text) {
  const out = {};
  for (const line of String(text).split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

// CLUSTER NODES: "<id> <ip:port@cport[,hostname]> <flags> <master id|-> ... <link> <slots...>",
// a slot range "first-last" or one slot; "[slot->-id]" migration marks are left out.
function parseClusterNodes(text) {
  return String(text).trim().split('\n').filter(Boolean).map((line) => {
    const f = line.split(' ');
    const addr = f[1].split('@')[0];
    const slots = f.slice(8).filter((x) => !x.startsWith('[')).map((x) => x.split('-').map(Number))
      .map(([a, b]) => [a, b === undefined ? a : b]);
    return { id: f[0], addr, flags: f[2].split(','), masterId: f[3] === '-' ? null : f[3], link: f[7], slots };
  });
}

async function startRedisCluster({ masters = 3, hosts, net, nodeTimeout = 1000, readyTimeout = 30000 } = {}) {
  if (hosts && !net) throw new Error('startRedisCluster: hosts need their net (createHosts)');
  const dir = makeTempDir('chatd-it-rcluster-');
  const total = masters * 2;
  const nodes = [];
  for (let i = 0; i < total; i++) {
    const host = hosts ? hosts[i % hosts.length] : null;
    const k = hosts ? Math.floor(i / hosts.length) : 0;
    const ip = host ? host.ip : '127.0.0.1';
    const port = host ? 7000 + k : await freePort();
    const busPort = host ? port + 10000 : await freePort();
    nodes.push({ ip, port, busPort, host, url: `redis://${ip}:${port}`, label: `${ip}:${port}`, proc: null, id: null });
  }
  const byAddr = new Map(nodes.map((n) => [n.label, n]));
  const command = (node, ...args) => redisCommand(node.port, args, { host: node.ip, timeout: 2000 });
  const running = () => nodes.filter((n) => n.proc && !n.proc.exited);

  async function launch(node) {
    const nodeDir = path.join(dir, `${node.ip}-${node.port}`);
    fs.mkdirSync(nodeDir, { recursive: true });
    const args = [
      '--port', String(node.port), '--bind', node.ip, '--cluster-enabled', 'yes',
      '--cluster-port', String(node.busPort), '--cluster-node-timeout', String(nodeTimeout),
      '--cluster-config-file', path.join(nodeDir, 'nodes.conf'), '--cluster-announce-ip', node.ip,
      '--dir', nodeDir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no',
      '--daemonize', 'no', '--loglevel', 'warning',
    ];
    const label = `redis-cluster ${node.label}`;
    node.proc = node.host ? net.spawn(node.host, label, REDIS_SERVER, args) : spawnLogged(label, REDIS_SERVER, args);
    await waitFor(async () => {
      if (node.proc.exited) throw new Error(`${label} exited: ${JSON.stringify(node.proc.exited)}\n${node.proc.logTail(20)}`);
      return (await command(node, 'PING').catch(() => null)) === 'PONG';
    }, { timeout: readyTimeout, interval: 20, message: `${label} to answer PING` });
    node.id = await command(node, 'CLUSTER', 'MYID');
  }
  async function stop() {
    await Promise.all(nodes.map((n) => (n.proc ? n.proc.stop({ timeout: 5000 }) : null)));
  }

  // Each running node's CLUSTER SLOTS, as "first-last=ip:port" strings sorted.
  async function slotViews() {
    return Promise.all(running().map(async (n) => {
      const slots = await command(n, 'CLUSTER', 'SLOTS');
      if (slots instanceof Error) throw slots;
      return slots.map((r) => `${r[0]}-${r[1]}=${r[2][0]}:${r[2][1]}`).sort().join(' ');
    }));
  }

  async function healthProblem() {
    for (const n of running()) {
      const info = parseInfo(await command(n, 'CLUSTER', 'INFO'));
      if (info.cluster_state !== 'ok' || Number(info.cluster_slots_ok) !== SLOTS) {
        return `${n.label}: cluster_state ${info.cluster_state}, slots ok ${info.cluster_slots_ok}`;
      }
    }
    const views = await slotViews();
    if (new Set(views).size !== 1) return `nodes disagree on the slots: ${views.join(' | ')}`;
    for (const entry of views[0].split(' ')) {
      const owner = byAddr.get(entry.split('=')[1]);
      if (!owner || !owner.proc || owner.proc.exited) return `slots ${entry} on a node that is not running`;
    }
    return null;
  }

  async function waitHealthy({ timeout = readyTimeout } = {}) {
    let last = 'not asked yet';
    await waitFor(async () => {
      last = await healthProblem();
      return last === null;
    }, { timeout, interval: 100, message: () => `Redis Cluster healthy; last: ${last}` });
  }

  async function replicasUp() {
    for (const n of running()) {
      const info = parseInfo(await command(n, 'INFO', 'replication'));
      if (info.role === 'slave' && info.master_link_status !== 'up') return false;
    }
    return true;
  }

  // From CLUSTER NODES of a running node: CLUSTER SLOTS leaves out replicas that have not
  // replicated a byte yet (an empty dataset).
  async function masterList() {
    const live = running()[0];
    if (!live) throw new Error('no Redis Cluster node is running');
    const view = parseClusterNodes(await command(live, 'CLUSTER', 'NODES'));
    return view.filter((x) => x.flags.includes('master') && !x.flags.includes('fail') && x.slots.length)
      .map((x) => ({
        node: byAddr.get(x.addr),
        slots: x.slots,
        replicas: view.filter((r) => r.masterId === x.id && !r.flags.includes('fail')).map((r) => byAddr.get(r.addr)),
      }))
      .sort((a, b) => a.slots[0][0] - b.slots[0][0]);
  }

  async function slotOf(key) {
    const n = running()[0];
    return command(n, 'CLUSTER', 'KEYSLOT', key);
  }

  async function ownerOf(key) {
    const slot = await slotOf(key);
    for (const m of await masterList()) {
      if (m.slots.some(([a, b]) => slot >= a && slot <= b)) return { slot, node: m.node };
    }
    throw new Error(`no master serves slot ${slot} (${key})`);
  }

  async function killMaster(node, { timeout = 20000 } = {}) {
    const started = Date.now();
    const replicaIds = new Set(parseClusterNodes(await command(node, 'CLUSTER', 'NODES'))
      .filter((x) => x.masterId === node.id).map((x) => x.id));
    if (!replicaIds.size) throw new Error(`${node.label} has no replica to take over`);
    await node.proc.stop({ signal: 'SIGKILL', timeout: 5000 });
    let promoted = null;
    await waitFor(async () => {
      const ms = await masterList();
      promoted = ms.map((m) => m.node).find((m) => replicaIds.has(m.id)) || null;
      return promoted && (await healthProblem()) === null;
    }, {
      timeout,
      interval: 100,
      message: () => `a replica of ${node.label} to be promoted and the cluster healthy (promoted: ${promoted && promoted.label})`,
    });
    return { promoted, elapsedMs: Date.now() - started };
  }

  const cluster = {
    nodes,
    seeds: nodes.map((n) => n.url),
    command,
    masters: masterList,
    slotOf,
    ownerOf,
    killMaster,
    waitHealthy,
    restart: (node) => launch(node),
    stop,
    async cleanup() {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  for (const n of nodes) {
    Object.defineProperty(n, 'pid', { get: () => (n.proc && !n.proc.exited ? n.proc.child.pid : null) });
    Object.defineProperty(n, 'running', { get: () => Boolean(n.proc && !n.proc.exited) });
    n.logTail = (k) => (n.proc ? n.proc.logTail(k) : '');
  }

  try {
    await Promise.all(nodes.map(launch));
    const create = spawnLogged('redis-cli --cluster create', REDIS_CLI,
      ['--cluster', 'create', ...nodes.map((n) => n.label), '--cluster-replicas', '1', '--cluster-yes']);
    const done = await Promise.race([create.whenExited(), sleep(readyTimeout).then(() => null)]);
    if (!done || done.code !== 0) {
      await create.stop({ timeout: 1000 });
      throw new Error(`redis-cli --cluster create ${done ? `exited ${done.code}` : 'timed out'}:\n${create.logTail(30)}`);
    }
    await waitHealthy();
    await waitFor(replicasUp, { timeout: readyTimeout, interval: 100, message: 'every replica linked to its master' });
  } catch (e) {
    await cluster.cleanup();
    throw e;
  }
  return cluster;
}

module.exports = { startRedisCluster, parseInfo, parseClusterNodes };
