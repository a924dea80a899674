'use strict';
/*
 * Issue 13: chat servers on three hosts sharing rooms through a 3-master Redis Cluster (sharded
 * pub/sub, the format of @socket.io/redis-adapter's createShardedAdapter), every host and every
 * Redis host a network namespace of its own (./lib/cluster_hosts.js, ./lib/netns.js). The test
 * clients run in the root namespace and reach each host on its IP, as clients behind DNS would.
 *
 * The server under test is CHATD_CLUSTER_TARGET: "chatd" (default; chatd --workers 2 with
 * redis {mode: cluster, nodes}) or "node" (tests/reference/sharded-server.js on every host), which
 * is how the harness itself is checked. A fourth host always runs the Node sharded server, for the
 * mixed subtest. Rooms are chosen so that their channels (socket.io#/#<room>#) lie on all three
 * shards. Needs root (network namespaces); skipped with the reason otherwise.
 *
 *   CHATD_CLUSTER_TARGET=node node --test tests/integration/cluster_hosts.test.js
 *   ctest --test-dir build -R it_cluster_hosts --output-on-failure
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { connectClient, waitFor, settle, sleep, unstamped, describeValue } = require('./lib/harness');
const { canCreateNamespaces } = require('./lib/netns');
const { slotOf } = require('./lib/process');
const { clusterTarget, startHostsWorld, roomsOnEveryShard } = require('./lib/cluster_hosts');

const TARGET = clusterTarget();
// Engine.IO ping interval and timeout on every server: a client of a cut-off host notices
// within about two of these.
const PING_MS = 1000;
const NODE_HOST = 3; // index of the host that always runs the Node sharded server
const CHAT_HOSTS = [0, 1, 2];
const probe = canCreateNamespaces();

// ---------------------------------------------------------------------------------------------
// Members: a client in one room that records what it gets; with `roam`, it moves to the next
// host of its list when its connection drops and the room is joined again there (the query's
// channel), as a client behind DNS or a load balancer would.

const ROAM_ATTEMPTS = 6;

async function join(ctx, { room, userId, host, transports = ['websocket'], roam = null }) {
  const m = { room, userId, transports, host, hops: [], chats: [], logins: [], socket: null, closed: false, roaming: null };
  const attach = async (i) => {
    const socket = await connectClient(ctx.world.urls[i], { channel: room, userId, transports, timeout: 3000 });
    m.socket = socket;
    m.host = i;
    socket.on('chat', (p) => m.chats.push(unstamped(p)));
    socket.on('login', (q) => m.logins.push(q));
    socket.on('disconnect', (reason) => {
      if (m.closed || !roam) return;
      m.hops.push({ from: i, reason, at: Date.now() });
      m.roaming = roamFrom(i);
    });
  };
  const roamFrom = async (i) => {
    const order = [...roam.slice(roam.indexOf(i) + 1), ...roam.slice(0, roam.indexOf(i) + 1)];
    for (let k = 0; k < ROAM_ATTEMPTS && !m.closed; k++) {
      const next = order[k % order.length];
      try {
        await attach(next);
        m.hops[m.hops.length - 1].to = next;
        return next;
      } catch {
        await sleep(200);
      }
    }
    return null;
  };
  await attach(host);
  ctx.members.push(m);
  return m;
}

function leaveAll(ctx) {
  for (const m of ctx.members.splice(0)) {
    m.closed = true;
    if (m.socket) m.socket.close();
  }
}

const label = (m) => `${m.userId}@h${m.host + 1}/${m.transports[0]}`;

function say(m, payload, timeout = 5000) {
  return m.socket.timeout(timeout).emitWithAck('message', payload);
}

// What `m` got from sender `from` (payloads {from, seq}), as "missing […] duplicated […]" or ''.
function countProblems(m, from, seqs) {
  const counts = new Map();
  for (const p of m.chats) if (p && p.from === from) counts.set(p.seq, (counts.get(p.seq) || 0) + 1);
  const missing = seqs.filter((s) => !counts.get(s));
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([s, n]) => `${s}x${n}`);
  const parts = [];
  if (missing.length) parts.push(`missing ${missing.length}: ${describeValue(missing, 120)}`);
  if (duplicated.length) parts.push(`duplicated: ${describeValue(duplicated, 120)}`);
  return parts.length ? `${label(m)} from ${from}: ${parts.join(', ')}` : '';
}

const own = (m) => m.chats.filter((p) => p && p.from === m.userId).length;

// ---------------------------------------------------------------------------------------------
// The seed's flow in one room over the given hosts: each member's join announced by `login` to
// the members already there, and each member's message delivered as `chat` to every other member
// exactly once (never back to its sender), whatever host or transport either is on.

async function seedFlow(ctx, { room, hosts, transports }) {
  const members = [];
  for (const t of transports) {
    for (const h of hosts) {
      const m = await join(ctx, { room, userId: `${room}-h${h + 1}-${t}`, host: h, transports: [t] });
      const earlier = [...members];
      members.push(m);
      await waitFor(() => earlier.every((e) => e.logins.some((q) => q.userId === m.userId)), {
        timeout: 5000,
        message: () => `login of ${label(m)} at ${earlier.filter((e) => !e.logins.some((q) => q.userId === m.userId)).map(label)}`,
      });
    }
  }
  for (const m of members) {
    const ack = await say(m, { from: m.userId, seq: 0, body: `hello from ${m.userId}` });
    assert.equal(ack && ack.bus, true, `${label(m)}'s message ack: ${describeValue(ack)}`);
  }
  const want = members.length - 1;
  await waitFor(() => members.every((m) => m.chats.length >= want), {
    timeout: 5000,
    message: () => `${want} chats at every member of ${room}; short: ${members.filter((m) => m.chats.length < want).map((m) => `${label(m)} ${m.chats.length}`)}`,
  });
  await settle();
  const problems = [];
  for (const m of members) {
    const later = members.slice(members.indexOf(m) + 1).map((x) => x.userId).sort();
    const logins = m.logins.map((q) => q.userId).sort();
    if (JSON.stringify(logins) !== JSON.stringify(later)) problems.push(`${label(m)} logins ${describeValue(logins)}, expected ${describeValue(later)}`);
    for (const other of members) {
      if (other === m) continue;
      const p = countProblems(m, other.userId, [0]);
      if (p) problems.push(p);
    }
    if (own(m)) problems.push(`${label(m)} got its own message back`);
  }
  assert.deepEqual(problems, [], `room ${room}`);
}

// ---------------------------------------------------------------------------------------------

test(`chat on a 3-master Redis Cluster across namespaced hosts (target ${TARGET})`, {
  skip: probe.ok ? false : `needs network namespaces: ${probe.reason}`,
  timeout: 220000,
}, async (t) => {
  const world = await startHostsWorld({ targets: [TARGET, TARGET, TARGET, 'node'], pingMs: PING_MS });
  const ctx = { world, members: [] };
  t.after(async () => {
    leaveAll(ctx);
    const exits = world.unexpectedExits();
    await world.stop();
    assert.deepEqual(exits, [], 'servers that exited on their own');
  });
  const { cluster, net } = world;
  // A subtest whose members are closed at its end, passed or failed.
  const step = (name, fn) => t.test(name, async () => {
    try {
      await fn();
    } finally {
      leaveAll(ctx);
    }
  });
  t.diagnostic(`hosts ${world.hosts.map((h) => `${h.label}=${h.ip}`).join(' ')}; redis ${world.redisHosts.map((h) => `${h.label}=${h.ip}`).join(' ')}`);
  t.diagnostic(`masters ${(await cluster.masters()).map((m) => `${m.node.label} ${m.slots.map((s) => s.join('-'))} (replica ${m.replicas.map((r) => r.label)})`).join('; ')}`);

  await step('rooms are sharded channels: SSUBSCRIBEd on their slot\'s master by every host, nothing on classic pub/sub', async () => {
    const rooms = await roomsOnEveryShard(cluster, 'shard');
    for (const { room } of rooms) {
      for (const h of CHAT_HOSTS) await join(ctx, { room, userId: `${room}-h${h + 1}`, host: h });
    }
    const problems = [];
    for (const { room, channel, master } of rooms) {
      const [, n] = await cluster.command(master, 'PUBSUB', 'SHARDNUMSUB', channel);
      // one subscriber per server process with a member at the least: one per host
      if (!(n >= CHAT_HOSTS.length)) problems.push(`${room}: ${n} subscribers of ${channel} on its master ${master.label}, expected >= ${CHAT_HOSTS.length}`);
    }
    for (const node of cluster.nodes.filter((x) => x.running)) {
      const classic = await cluster.command(node, 'PUBSUB', 'CHANNELS', 'socket.io*');
      const patterns = await cluster.command(node, 'PUBSUB', 'NUMPAT');
      if (classic.length || patterns) problems.push(`${node.label}: classic subscriptions ${describeValue(classic)}, ${patterns} patterns`);
    }
    assert.deepEqual(problems, []);
  });

  await step('seed flow across hosts: login to the others, message to every other member once (websocket and polling)', async () => {
    const rooms = await roomsOnEveryShard(cluster, 'seed');
    await Promise.all(rooms.map(({ room }) => seedFlow(ctx, { room, hosts: CHAT_HOSTS, transports: ['websocket', 'polling'] })));
  });

  await step('counted run: several senders on different hosts, every receiver gets every message exactly once', async () => {
    const N = 40;
    const rooms = await roomsOnEveryShard(cluster, 'count');
    const all = [];
    for (const { room } of rooms) {
      const members = [];
      for (const h of CHAT_HOSTS) {
        for (const tr of ['websocket', 'polling']) members.push(await join(ctx, { room, userId: `${room}-h${h + 1}-${tr}`, host: h, transports: [tr] }));
      }
      all.push({ room, members, senders: members.filter((m) => m.transports[0] === 'websocket') });
    }
    const seqs = [...Array(N).keys()];
    const acks = await Promise.all(all.flatMap(({ senders }) => senders.map(async (s) => {
      const got = [];
      for (const seq of seqs) got.push(await say(s, { from: s.userId, seq }));
      return got.filter((a) => a && a.bus === true).length;
    })));
    assert.deepEqual(acks, acks.map(() => N), 'acks with bus true, per sender');
    const expected = (m, r) => r.senders.filter((s) => s !== m).length * N;
    await waitFor(() => all.every((r) => r.members.every((m) => m.chats.length >= expected(m, r))), {
      timeout: 15000,
      message: () => `every message at every receiver; short: ${all.flatMap((r) => r.members.filter((m) => m.chats.length < expected(m, r)).map((m) => `${label(m)} ${m.chats.length}/${expected(m, r)}`))}`,
    });
    await settle();
    const problems = all.flatMap((r) => r.members.flatMap((m) => [
      ...r.senders.filter((s) => s !== m).map((s) => countProblems(m, s.userId, seqs)),
      own(m) ? `${label(m)} got ${own(m)} of its own messages` : '',
    ])).filter(Boolean);
    assert.deepEqual(problems, []);
    if (TARGET === 'chatd') {
      // which chatd workers the clients landed on, per host (SO_REUSEPORT spreads them)
      const spread = CHAT_HOSTS.map((h) => `h${h + 1}: ${[...new Set(all.flatMap((r) => r.members.filter((m) => m.host === h).map((m) => slotOf(m.socket))))].sort()}`);
      t.diagnostic(`counted: worker slots in use ${spread.join('; ')}`);
    }
    t.diagnostic(`counted: ${all.length} rooms, ${all.reduce((a, r) => a + r.senders.length, 0)} senders x ${N}, ` +
      `${all.reduce((a, r) => a + r.members.reduce((b, m) => b + m.chats.length, 0), 0)} deliveries`);
  });

  await step('mixed: a Node sharded-server host shares rooms with the others', async () => {
    const rooms = await roomsOnEveryShard(cluster, 'mixed');
    await Promise.all(rooms.map(({ room }) => seedFlow(ctx, { room, hosts: [0, 1, NODE_HOST], transports: ['websocket', 'polling'] })));
  });

  await step('a host cut off: the others keep serving, its clients move to another host and rejoin their rooms', async () => {
    const cut = world.hosts[2];
    const rooms = await roomsOnEveryShard(cluster, 'cut');
    const all = [];
    for (const { room } of rooms) {
      const a = await join(ctx, { room, userId: `${room}-a`, host: 0 });
      const b = await join(ctx, { room, userId: `${room}-b`, host: 1, transports: ['polling'] });
      const c = await join(ctx, { room, userId: `${room}-c`, host: 2, roam: CHAT_HOSTS });
      const d = await join(ctx, { room, userId: `${room}-d`, host: 2, transports: ['polling'], roam: CHAT_HOSTS });
      all.push({ room, a, b, movers: [c, d], members: [a, b, c, d] });
    }
    const sayAll = async (seq, from = (r) => r.a) => {
      for (const r of all) await say(from(r), { from: from(r).userId, seq });
    };
    const arrived = (m, from, seq) => m.chats.some((p) => p && p.from === from.userId && p.seq === seq);
    await sayAll(0);
    await waitFor(() => all.every((r) => r.members.slice(1).every((m) => arrived(m, r.a, 0))), { timeout: 5000, message: 'the first message in every room' });

    const cutAt = Date.now();
    net.linkDown(cut);
    try {
      // The other hosts keep serving at once, before anyone noticed the cut.
      await sayAll(1);
      await sayAll(1, (r) => r.b);
      await waitFor(() => all.every((r) => arrived(r.b, r.a, 1) && arrived(r.a, r.b, 1)), {
        timeout: 5000, message: 'a message between h1 and h2 while h3 is cut off',
      });
      const movers = all.flatMap((r) => r.movers);
      await waitFor(() => movers.every((m) => m.host !== 2 && m.socket.connected), {
        timeout: 20000,
        message: () => `every client of ${cut.label} on another host; not yet: ${movers.filter((m) => m.host === 2 || !m.socket.connected).map(label)}`,
      });
      t.diagnostic(`cut-off clients moved: ${movers.map((m) => `${m.userId} -> h${m.host + 1} after ${m.hops[0].at - cutAt} ms (${m.hops[0].reason})`).join('; ')}`);
      await sayAll(2);
      for (const r of all) for (const m of r.movers) await say(m, { from: m.userId, seq: 3 });
      await waitFor(() => all.every((r) => r.movers.every((m) => arrived(m, r.a, 2) && arrived(r.a, m, 3) && arrived(r.b, m, 3))), {
        timeout: 5000, message: 'messages to and from the moved clients in their rooms',
      });
      await settle();
      const problems = all.flatMap((r) => [
        ...r.movers.map((m) => countProblems(m, r.a.userId, [2])),
        ...r.movers.flatMap((m) => [r.a, r.b].map((x) => countProblems(x, m.userId, [3]))),
        ...r.members.map((m) => (own(m) ? `${label(m)} got its own message` : '')),
      ]).filter(Boolean);
      assert.deepEqual(problems, []);
    } finally {
      net.linkUp(cut);
    }
    // Back on the network, the host serves again (its Redis connections carry on or reconnect).
    const { room } = all[0];
    const back = await waitFor(() => join(ctx, { room, userId: `${room}-back`, host: 2 }).catch(() => null), {
      timeout: 20000, interval: 500, message: `a client to connect to ${cut.label} once it is back`,
    });
    const a = all[0].a;
    let seq = 100;
    const upAt = Date.now();
    await waitFor(async () => {
      seq++;
      await say(back, { from: back.userId, seq }, 2000).catch(() => null);
      await say(a, { from: a.userId, seq }, 2000).catch(() => null);
      await sleep(300);
      return a.chats.some((p) => p && p.from === back.userId) && back.chats.some((p) => p && p.from === a.userId);
    }, { timeout: 30000, interval: 200, message: `${cut.label} back on the network to deliver both ways with h1` });
    t.diagnostic(`${cut.label} delivering again ${Date.now() - upAt} ms after it was connected again`);
  });

  await step('a Redis master killed: its replica takes over, its rooms resume, the other shards never stop', async () => {
    const rooms = await roomsOnEveryShard(cluster, 'fail');
    // The first seed of redis.nodes when it is a master: a server that only ever talks to its first
    // seed is caught too.
    const seed = rooms.find((r) => r.master === cluster.nodes[0]);
    const victim = (seed || rooms[0]).master;
    const all = [];
    for (const { room, master } of rooms) {
      const sender = await join(ctx, { room, userId: `${room}-s`, host: 0 });
      const receivers = [
        await join(ctx, { room, userId: `${room}-r1`, host: 1 }),
        await join(ctx, { room, userId: `${room}-r2`, host: 1, transports: ['polling'] }),
        await join(ctx, { room, userId: `${room}-r3`, host: 0, transports: ['polling'] }),
      ];
      all.push({ room, affected: master === victim, sender, receivers, sent: 0, acked: 0 });
    }
    let sending = true;
    const loops = all.map(async (r) => {
      while (sending) {
        const seq = r.sent++;
        say(r.sender, { from: r.sender.userId, seq }, 3000).then((a) => { if (a && a.bus) r.acked++; }, () => {});
        await sleep(40);
      }
    });
    await sleep(1000);
    const { promoted, elapsedMs } = await cluster.killMaster(victim, { timeout: 20000 });
    const promotedAt = all.map((r) => r.sent);
    t.diagnostic(`killed master ${victim.label} (pid SIGKILL); ${promoted.label} serves its slots after ${elapsedMs} ms`);
    const affected = all.filter((r) => r.affected);
    const resumeStart = Date.now();
    try {
      await waitFor(() => affected.every((r) => r.receivers.every((m) => m.chats.some((p) => p.seq >= promotedAt[all.indexOf(r)]))), {
        timeout: 30000, interval: 100, message: () => `delivery in ${affected.map((r) => r.room)} (slot on ${victim.label}) to resume after the failover`,
      });
      t.diagnostic(`rooms on the failed shard deliver again ${Date.now() - resumeStart} ms after the promotion`);
      await sleep(1000);
    } finally {
      sending = false;
      await Promise.all(loops);
    }
    const healthy = all.filter((r) => !r.affected);
    const seqsOf = (r) => [...Array(r.sent).keys()];
    await waitFor(() => healthy.every((r) => r.receivers.every((m) => m.chats.length >= r.sent)), {
      timeout: 10000, message: () => `every message of the healthy shards' rooms; ${healthy.flatMap((r) => r.receivers.map((m) => `${label(m)} ${m.chats.length}/${r.sent}`))}`,
    }).catch(() => {}); // the count check below says what is missing
    await settle();
    for (const r of all) {
      const unique = r.receivers.map((m) => new Set(m.chats.map((p) => p.seq)).size);
      t.diagnostic(`${r.room}${r.affected ? ' (failed shard)' : ''}: sent ${r.sent}, acked ${r.acked}, received (unique) ${unique.join('/')}, lost ${unique.map((u) => r.sent - u).join('/')}`);
    }
    const problems = [
      ...healthy.flatMap((r) => r.receivers.map((m) => countProblems(m, r.sender.userId, seqsOf(r)))),
      ...affected.flatMap((r) => r.receivers.map((m) => {
        const dup = m.chats.length - new Set(m.chats.map((p) => p.seq)).size;
        return dup ? `${label(m)}: ${dup} duplicated in the failed shard's room` : '';
      })),
    ].filter(Boolean);
    assert.deepEqual(problems, []);
  });
});
