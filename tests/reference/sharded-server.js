#!/usr/bin/env node
'use strict';
/*
 * The seed's chat (./seed-server.js's gateway: join room `channel`, `login` to the others,
 * `message` -> `chat` to the others, acked) on Redis Cluster with @socket.io/redis-adapter's
 * sharded adapter (createShardedAdapter, subscriptionMode "dynamic": SSUBSCRIBE/SPUBLISH on
 * socket.io#/# and socket.io#/#<room>#), on node-redis 4 cluster clients (createCluster,
 * rootNodes from --nodes). It is what chatd's `redis.mode: cluster` must interoperate with, and the
 * "node" target of tests/integration/cluster_hosts.test.js (CHATD_CLUSTER_TARGET=node), which
 * validates the multi-host harness with it.
 *
 * One thing is added to the stock stack. node-redis 4's cluster client does not move a sharded
 * subscription off a master that died: the node's client reconnects to the dead address forever
 * (it rediscovers the slots only on a MOVED reply or a server SUNSUBSCRIBE, and a killed process
 * sends neither), so after a failover the rooms on that shard stay silent for good. This server
 * polls CLUSTER SLOTS (--watch-ms, default 500; 0: off) and, when the masters change, builds new
 * pub and sub clients, SSUBSCRIBEs the adapter's channels again on them and drops the old ones.
 * chatd has to do the equivalent by itself.
 *
 * And one thing is made as chatd does it: the stock adapter SSUBSCRIBEs a new room's channel
 * without waiting (on create-room), and socket.io answers CONNECT before the connection handler
 * joins the room, so a message another host publishes right after the CONNECT can miss this one.
 * chatd answers CONNECT once the room's subscription is confirmed; here a handshake middleware
 * joins the room and waits for its SSUBSCRIBE before letting the connection through.
 *
 * Usage: node sharded-server.js --nodes redis://ip:port[,redis://ip:port...] [--port 8000]
 *          [--host 0.0.0.0] [--key socket.io] [--ping-interval 25000] [--ping-timeout 20000]
 *          [--transports websocket,polling] [--watch-ms 500]
 *        (CHATD_REDIS_NODES, comma-separated, if --nodes is not given)
 * GET /healthz answers {status: "ok", server: "sharded-reference", redis: "up"|"down"}.
 */

const http = require('node:http');
const { Server } = require('socket.io');
const { createShardedAdapter } = require('@socket.io/redis-adapter');
const { createClient, createCluster } = require('redis');
const { seedGateway } = require('./seed-server');

function parseArgs(argv) {
  const opts = {
    host: '0.0.0.0',
    port: 8000,
    nodes: (process.env.CHATD_REDIS_NODES || '').split(',').filter(Boolean),
    key: 'socket.io',
    pingInterval: 25000,
    pingTimeout: 20000,
    transports: ['websocket', 'polling'],
    watchMs: 500,
  };
  const numeric = { '--port': 'port', '--ping-interval': 'pingInterval', '--ping-timeout': 'pingTimeout', '--watch-ms': 'watchMs' };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (numeric[flag]) {
      opts[numeric[flag]] = Number(value);
      if (!Number.isFinite(opts[numeric[flag]]) || opts[numeric[flag]] < 0) throw new Error(`${flag}: not a number: ${value}`);
    } else if (flag === '--host') {
      opts.host = value;
    } else if (flag === '--nodes') {
      opts.nodes = value.split(',').filter(Boolean);
    } else if (flag === '--key') {
      opts.key = value;
    } else if (flag === '--transports') {
      opts.transports = value.split(',').filter(Boolean);
    } else {
      throw new Error(`unknown option ${flag}`);
    }
  }
  if (!opts.nodes.length) throw new Error('--nodes (or CHATD_REDIS_NODES): at least one seed URL');
  return opts;
}

function log(...parts) {
  process.stderr.write(`${new Date().toISOString()} [sharded ${process.pid}] ${parts.join(' ')}\n`);
}

function newCluster(nodes, name) {
  const c = createCluster({ rootNodes: nodes.map((url) => ({ url })) });
  c.on('error', (e) => log(`redis ${name}: ${e.message}`));
  return c;
}

// "first-last=ip:port ..." of the masters, from the first seed that answers; null if none does.
async function slotMap(nodes) {
  for (const url of nodes) {
    const c = createClient({ url, socket: { connectTimeout: 500, reconnectStrategy: false } });
    c.on('error', () => {});
    try {
      await c.connect();
      const slots = await c.clusterSlots();
      return slots.map((s) => `${s.from}-${s.to}=${s.master.ip}:${s.master.port}`).sort().join(' ');
    } catch {
      // next seed
    } finally {
      c.disconnect().catch(() => {});
    }
  }
  return null;
}

// Remembers the promise of every SSUBSCRIBE made through `client`, by channel.
function trackSubscriptions(client, pending) {
  const sSubscribe = client.sSubscribe.bind(client);
  client.sSubscribe = (channel, listener, bufferMode) => {
    const p = sSubscribe(channel, listener, bufferMode);
    pending.set(channel, p.catch((e) => log(`SSUBSCRIBE ${channel}: ${e.message}`)));
    return p;
  };
  return client;
}

// New pub/sub clients under `adapter`, every channel it listens on subscribed again on them. The
// new subscriber's messages are dropped until the old one is closed, in the same tick, so that a
// message of a healthy shard is not delivered by both.
async function rebuildClients(adapter, nodes, pending) {
  const pub = newCluster(nodes, 'pub');
  const sub = trackSubscriptions(newCluster(nodes, 'sub'), pending);
  await Promise.all([pub.connect(), sub.connect()]);
  let live = false;
  const handler = (message, channel) => {
    if (live) adapter.onRawMessage(message, channel);
  };
  const channels = [adapter.channel, adapter.responseChannel];
  for (const room of adapter.rooms.keys()) {
    if (adapter.shouldUseASeparateNamespace(room)) channels.push(adapter.dynamicChannel(room));
  }
  await Promise.all(channels.map((ch) => sub.sSubscribe(ch, handler, true)));
  const [oldPub, oldSub] = [adapter.pubClient, adapter.subClient];
  adapter.pubClient = pub;
  adapter.subClient = sub;
  live = true;
  oldSub.disconnect().catch(() => {});
  // The old publisher's commands in flight to healthy shards get their replies first.
  oldPub.quit().catch(() => {});
  setTimeout(() => oldPub.disconnect().catch(() => {}), 1000).unref();
  return channels.length;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  // As seed-server.js: an adapter PUBLISH that fails is logged, not fatal.
  process.on('unhandledRejection', (e) => log(`unhandled rejection: ${e && e.message}`));
  const pubClient = newCluster(opts.nodes, 'pub');
  const pending = new Map();
  const subClient = trackSubscriptions(newCluster(opts.nodes, 'sub'), pending);
  await Promise.all([pubClient.connect(), subClient.connect()]);

  const io = new Server({ transports: opts.transports, pingInterval: opts.pingInterval, pingTimeout: opts.pingTimeout });
  io.adapter(createShardedAdapter(pubClient, subClient, { channelPrefix: opts.key, subscriptionMode: 'dynamic' }));
  const adapter = io.of('/').adapter;
  const busUp = () => Boolean(adapter.pubClient && adapter.pubClient.isOpen);
  seedGateway(io, { busAccepts: busUp });
  io.use(async (socket, next) => {
    const room = socket.handshake.query.channel; // checked by the gateway's middleware
    socket.join(room);
    if (adapter.shouldUseASeparateNamespace(room)) await pending.get(adapter.dynamicChannel(room));
    next();
  });

  const httpServer = http.createServer((req, res) => {
    if (req.method === 'GET' && new URL(req.url, 'http://x').pathname === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', server: 'sharded-reference', redis: busUp() ? 'up' : 'down' }));
      return;
    }
    if (!req.url.startsWith('/socket.io/')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found\n');
    }
  });
  io.attach(httpServer);

  let watching = null;
  if (opts.watchMs > 0) {
    let known = await slotMap(opts.nodes);
    let busy = false;
    watching = setInterval(async () => {
      if (busy) return;
      busy = true;
      try {
        const now = await slotMap(opts.nodes);
        if (now && known && now !== known) {
          const n = await rebuildClients(adapter, opts.nodes, pending);
          log(`slot map changed (${known} -> ${now}): new cluster clients, ${n} channels subscribed again`);
          known = now;
        } else if (now && !known) {
          known = now;
        }
      } catch (e) {
        log(`slot watch: ${e.message}`);
      } finally {
        busy = false;
      }
    }, opts.watchMs);
  }

  httpServer.listen(opts.port, opts.host, () => log(`sharded-server listening on ${opts.host}:${opts.port} (redis cluster ${opts.nodes.join(',')})`));
  const stop = () => {
    if (watching) clearInterval(watching);
    io.close();
    Promise.allSettled([adapter.pubClient.disconnect(), adapter.subClient.disconnect()]).finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  log(`fatal: ${e.stack || e.message}`);
  process.exit(1);
});
