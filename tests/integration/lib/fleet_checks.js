'use strict';
/*
 * Behaviours the fleet tests check twice: once driven by the Node peer's adapter
 * (fleet_requests.test.js) and once by a @socket.io/redis-emitter (fleet_emitter.test.js), which
 * publish the same requests (the emitter's carry no uid). `actor` is a ./node_peer.js Peer of
 * either mode; what the fleet's sockets are is always read back through the peer (fetchSockets).
 *
 *   checkJoinLeave(s, fleet, actor, tag)            socketsJoin / socketsLeave then broadcasts
 *   checkJoinThenEmit(s, fleet, actor, tag, {withPeerClients})   a broadcast right after the join
 *   checkDisconnect(s, fleet, actor, tag, close)    disconnectSockets(close)
 *   checkServerSideEmitCounted(fleet, actor)        chatd_adapter_server_side_emit_total + workers
 */

const assert = require('node:assert/strict');
const { collect, settle, waitFor, withTimeout } = require('./harness');
const { serverClients, peerClients, assertFast, sumMetric } = require('./fleet');

const userIdOf = (socket) => socket.io.opts.query.userId;
const idsOf = (sockets) => sockets.map((x) => x.id).sort();

// chatd: applies REMOTE_JOIN {uid?, type: 2, opts: {rooms, except}, rooms: [...]} and REMOTE_LEAVE
// (type 3) to its matching sockets (no answer), and from then on delivers broadcasts to the new
// rooms (socket.io#/#<room># and the base channel) and stops after the leave.
async function checkJoinLeave(s, fleet, actor, tag) {
  const { peer } = fleet;
  const extra = `${tag}-extra`;
  const a = await serverClients(s, fleet, { tag, room: `${tag}-a`, n: 3 });
  const b = await serverClients(s, fleet, { tag, room: `${tag}-b`, n: 1 });
  const [na] = await peerClients(s, fleet, { tag, room: `${tag}-a`, n: 1 });
  const got = new Map([...a, ...b, na].map((c) => [c, collect(c, 'fleet-extra')]));
  const inExtra = async () => idsOf((await peer.call('fetchSockets', { rooms: [extra] })).result);

  await actor.call('socketsJoin', { rooms: [`${tag}-a`], target: extra });
  await waitFor(async () => JSON.stringify(await inExtra()) === JSON.stringify(idsOf([...a, na])), {
    timeout: 2000, message: () => `fetchSockets of ${extra} to list the members of ${tag}-a`,
  });
  const members = await peer.call('fetchSockets', { rooms: [`${tag}-a`] });
  for (const m of members.result) assert.ok(m.rooms.includes(extra), `${m.handshake.query.userId} lists ${extra} in its rooms: ${m.rooms}`);
  await actor.call('emit', { rooms: [extra], event: 'fleet-extra', args: ['joined'] });
  for (const c of [...a, na]) await got.get(c).waitCount(1, { label: `${userIdOf(c)} (joined ${extra})` });

  await actor.call('socketsLeave', { rooms: [`${tag}-a`], target: extra });
  await waitFor(async () => (await inExtra()).length === 0, { timeout: 2000, message: `${extra} to be empty after socketsLeave` });
  await actor.call('emit', { rooms: [extra], event: 'fleet-extra', args: ['left'] });
  await settle();
  for (const c of [...a, na]) assert.deepEqual(got.get(c).items, ['joined'], `${userIdOf(c)}: only the broadcast sent while it was in ${extra}`);
  for (const c of b) assert.deepEqual(got.get(c).items, [], `${userIdOf(c)} was never in ${extra}`);
}

// chatd: a broadcast published right after a REMOTE_JOIN (same publisher, so Redis delivers it
// after the request) reaches the joined sockets, as it does on a Node server (PSUBSCRIBE
// socket.io#/#*); a worker that subscribes per room must not lose it while its SUBSCRIBE to
// socket.io#/#<new room># is on its way. Likewise nothing right after a REMOTE_LEAVE. (The Node
// peer's own clients count only when the emitter acts: the peer's adapter joins its local sockets
// when its own request comes back from Redis, but delivers its local broadcast at once.)
async function checkJoinThenEmit(s, fleet, actor, tag, { withPeerClients }) {
  const a = [
    ...await serverClients(s, fleet, { tag, room: `${tag}-a`, n: 3 }),
    ...(withPeerClients ? await peerClients(s, fleet, { tag, room: `${tag}-a`, n: 1 }) : []),
  ];
  const got = new Map(a.map((c) => [c, collect(c, 'fleet-extra')]));
  for (let round = 0; round < 3; round++) {
    const extra = `${tag}-extra-${round}`;
    await actor.call('socketsJoin', { rooms: [`${tag}-a`], target: extra });
    await actor.call('emit', { rooms: [extra], event: 'fleet-extra', args: [`in ${round}`] });
    await actor.call('socketsLeave', { rooms: [`${tag}-a`], target: extra });
    await actor.call('emit', { rooms: [extra], event: 'fleet-extra', args: [`out ${round}`] });
    for (const c of a) await got.get(c).waitCount(round + 1, { label: `${userIdOf(c)}, round ${round}` });
  }
  await settle();
  for (const c of a) assert.deepEqual(got.get(c).items, ['in 0', 'in 1', 'in 2'], userIdOf(c));
}

// chatd: applies REMOTE_DISCONNECT {uid?, type: 4, opts: {rooms, except}, close} to its matching
// sockets: a Socket.IO DISCONNECT packet (client reason "io server disconnect"), then with
// close: true the Engine.IO connection is closed too; others stay connected.
async function checkDisconnect(s, fleet, actor, tag, close) {
  const a = await serverClients(s, fleet, { tag, room: `${tag}-a`, n: 3 });
  const b = await serverClients(s, fleet, { tag, room: `${tag}-b`, n: 1 });
  const [na] = await peerClients(s, fleet, { tag, room: `${tag}-a`, n: 1 });
  const reason = (c) => new Promise((resolve) => c.once('disconnect', (r) => resolve(r)));
  const reasons = [...a, na].map(reason);
  await actor.call('disconnectSockets', { rooms: [`${tag}-a`], close });
  const got = await withTimeout(Promise.all(reasons), 2000,
    () => `every member of ${tag}-a to be disconnected; connected: ${[...a, na].filter((c) => c.connected).map(userIdOf)}`);
  assert.deepEqual(got, Array(a.length + 1).fill('io server disconnect'));
  await settle();
  for (const c of b) assert.ok(c.connected, `${userIdOf(c)} (in ${tag}-b) stays connected`);
  const r = await fleet.peer.call('fetchSockets', { rooms: [`${tag}-a`, `${tag}-b`] });
  assertFast(r, 'fetchSockets() after disconnectSockets');
  assert.deepEqual(idsOf(r.result), idsOf(b));
}

// chatd: a SERVER_SIDE_EMIT {uid, type: 6, data: [event, ...args]} without requestId from another
// node (the emitter's uid is "emitter") increments chatd_adapter_server_side_emit_total (a
// counter, per worker) once on every worker.
async function checkServerSideEmitCounted(fleet, actor) {
  const { server, workers } = fleet;
  const metric = 'chatd_adapter_server_side_emit_total';
  const before = await sumMetric(server.port, metric);
  await actor.call('serverSideEmit', { event: 'fleet-note', args: ['no ack wanted', 1] });
  await waitFor(async () => (await sumMetric(server.port, metric)) === before + workers, {
    timeout: 2000, message: `${metric} to go from ${before} to ${before + workers} (one per worker)`,
  });
  await settle();
  assert.equal(await sumMetric(server.port, metric), before + workers, 'each worker counts it once');
}

module.exports = { userIdOf, idsOf, checkJoinLeave, checkJoinThenEmit, checkDisconnect, checkServerSideEmitCounted };
