'use strict';
// @socket.io/redis-emitter 5 (a separate Node process with no Socket.IO server, as a back-end
// service would use it) acting on a mixed fleet: chatd --workers 2 and a stock Node peer. The
// emitter publishes broadcasts with uid "emitter" and requests without a uid (REMOTE_JOIN,
// REMOTE_LEAVE, REMOTE_DISCONNECT, SERVER_SIDE_EMIT with uid "emitter"); chatd must act on them as
// the Node peer does. What chatd must do for the requests: see lib/fleet_checks.js.

const test = require('node:test');
const assert = require('node:assert/strict');
const { scope, collect, settle } = require('./lib/harness');
const { startFleet, serverClients, peerClients, assertSameData } = require('./lib/fleet');
const { startPeer } = require('./lib/node_peer');
const { userIdOf, checkJoinLeave, checkJoinThenEmit, checkDisconnect, checkServerSideEmitCounted } = require('./lib/fleet_checks');

test('mixed fleet: a Redis emitter reaches chatd clients as it reaches Node ones', { timeout: 120_000 }, async (t) => {
  const fleet = await startFleet(t);
  const emitter = fleet.s.track(await startPeer({ redisUrl: fleet.redis.url, mode: 'emitter' }));
  const sub = (name, fn) => t.test(name, { timeout: 30_000 }, (st) => fn(scope(st), st));

  // chatd: delivers the emitter's broadcasts (msgpack ["emitter", packet, {rooms, except, flags}]
  // on socket.io#/#<room># or socket.io#/#) to exactly the selected sockets, every argument.
  await sub('emitter.to(room).emit reaches exactly the chosen chatd and Node clients, every argument', async (s) => {
    const tag = 'emitter-emit';
    const a = [
      ...await serverClients(s, fleet, { tag: `${tag}-a`, room: `${tag}-a`, n: 2 }),
      ...await peerClients(s, fleet, { tag: `${tag}-a`, room: `${tag}-a`, n: 1 }),
    ];
    const b = [
      ...await serverClients(s, fleet, { tag: `${tag}-b`, room: `${tag}-b`, n: 2 }),
      ...await peerClients(s, fleet, { tag: `${tag}-b`, room: `${tag}-b`, n: 1, transports: ['websocket'] }),
    ];
    const c = await serverClients(s, fleet, { tag: `${tag}-c`, room: `${tag}-c`, n: 1 });
    const everyone = [...a, ...b, ...c];
    const got = new Map(everyone.map((x) => [x, collect(x, 'fleet-emitted')]));
    const args = (i) => [i, { text: 'from the emitter 😀', n: [1.5, -2, null, true] }, Buffer.from([i, 0, 255])];
    const cases = [
      [{ rooms: [`${tag}-a`] }, a],
      [{ rooms: [`${tag}-a`, `${tag}-b`], except: [b[0].id] }, [...a, ...b.slice(1)]],
      [{ rooms: [`${tag}-c`] }, c],
    ];
    for (const [i, [sel]] of cases.entries()) await emitter.call('emit', { ...sel, event: 'fleet-emitted', args: args(i) });
    for (const x of everyone) {
      const want = cases.map(([, to], i) => (to.includes(x) ? args(i) : null)).filter(Boolean);
      await got.get(x).waitCount(want.length, { label: userIdOf(x) });
    }
    await settle();
    for (const x of everyone) {
      const want = cases.map(([, to], i) => (to.includes(x) ? args(i) : null)).filter(Boolean);
      assertSameData(got.get(x).args, want, `${userIdOf(x)}: each emitter broadcast meant for it, once`);
    }
  });

  await sub('emitter.in(room).socketsJoin puts chatd sockets in a room; socketsLeave takes them out',
    (s) => checkJoinLeave(s, fleet, emitter, 'emitter-join-leave'));
  await sub('a broadcast right after emitter.in(room).socketsJoin reaches the chatd sockets it joined',
    (s) => checkJoinThenEmit(s, fleet, emitter, 'emitter-join-then-emit', { withPeerClients: true }));
  for (const close of [false, true]) {
    await sub(`emitter.in(room).disconnectSockets(${close}) disconnects chatd sockets with "io server disconnect"`,
      (s) => checkDisconnect(s, fleet, emitter, `emitter-disconnect-${close}`, close));
  }

  // The Node peer's record shows that the emitter did send it; chatd's metric that each worker got it.
  await sub('emitter.serverSideEmit reaches every chatd worker (chatd_adapter_server_side_emit_total)', async () => {
    await checkServerSideEmitCounted(fleet, emitter);
    const seen = await fleet.peer.call('serverSideEmits');
    assert.deepEqual(seen.result.filter((x) => x.event === 'fleet-note'), [{ event: 'fleet-note', args: ['no ack wanted', 1] }], 'the Node peer got it once');
  });
});
