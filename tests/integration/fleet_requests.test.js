'use strict';
// A mixed fleet, seen from a stock Node member: the server under test (chatd --workers 2) and a
// Node socket.io 4.8 server with @socket.io/redis-adapter 8.3 (classic pub/sub) on one Redis. Every
// adapter request the Node peer makes (socket.io-request#/#) must be answered by every chatd
// worker as a Node server would answer it, with exact results and long before the adapter's 5 s
// requestsTimeout. What each test expects of chatd is written above it.

const test = require('node:test');
const assert = require('node:assert/strict');
const { scope } = require('./lib/harness');
const { onCluster, startFleet, serverClients, peerClients, assertFast } = require('./lib/fleet');
const { userIdOf, idsOf, checkJoinLeave, checkJoinThenEmit, checkDisconnect, checkServerSideEmitCounted } = require('./lib/fleet_checks');

test('mixed fleet: adapter requests from a Node peer are answered by every chatd worker', { timeout: 180_000 }, async (t) => {
  const fleet = await startFleet(t);
  const { peer, server, workers } = fleet;
  const sub = (name, fn, opts = {}) => t.test(name, { timeout: 30_000, ...opts }, (st) => fn(scope(st), st));
  const call = (op, args) => peer.call(op, args);

  // chatd: every worker SUBSCRIBEs socket.io-request#/# (PUBSUB NUMSUB counts it).
  await sub('serverCount() on the Node peer is 1 + the number of chatd workers', async () => {
    const r = await call('serverCount');
    assert.equal(r.result, 1 + workers);
    assertFast(r, 'serverCount()');
  });

  // chatd: answers REMOTE_FETCH {uid, requestId, type: 5, opts: {rooms: [], except: []}} with
  // {requestId, sockets: [...its own sockets]} on socket.io-response#/#, once per worker.
  // (This subtest runs first among those with clients: the fleet holds only its sockets.)
  await sub('fetchSockets() on the Node peer returns every socket of the fleet exactly once', async (s) => {
    const tag = 'fetch-all';
    const ours = [
      ...await serverClients(s, fleet, { tag, room: `${tag}-a`, n: 4 }),
      ...await serverClients(s, fleet, { tag, room: `${tag}-b`, n: 1 }),
      ...await peerClients(s, fleet, { tag, room: `${tag}-a`, n: 2 }),
    ];
    const r = await call('fetchSockets', {});
    assertFast(r, 'fetchSockets()');
    assert.equal(r.result.length, ours.length, `${ours.length} sockets (${ours.length - 2} of chatd, 2 of the peer): ${JSON.stringify(r.result.map((x) => x.handshake.query.userId))}`);
    assert.deepEqual(idsOf(r.result), idsOf(ours));
  });

  // chatd: each socket in a REMOTE_FETCH answer is {id, handshake, rooms, data} as Node builds it:
  // id = the Socket.IO id the client got in its CONNECT; handshake = {headers (as received, names
  // lower-case), time (new Date().toString() at the handshake), address (peer IP, here
  // "127.0.0.1"), xdomain (origin header present), secure (false: plain HTTP), issued (ms since
  // the epoch), url (the first request's path and query), query (the parsed query: channel,
  // userId, EIO, transport), auth (the CONNECT packet's auth object)}; rooms = [its own id, the
  // channel]; data = {} (the seed's gateway stores nothing in socket.data).
  await sub('fetchSockets() on the Node peer carries each chatd socket\'s id, handshake, rooms and data', async (s) => {
    const tag = 'fetch-handshake';
    const room = `${tag}-room`;
    const before = Date.now();
    // n: 1, but as many as it takes to have one on each chatd worker: every one is checked.
    const cs = await serverClients(s, fleet, { tag, room, n: 1, auth: { token: `${tag}-token`, n: 7 }, extraHeaders: { 'x-fleet-test': tag } });
    const after = Date.now();
    const r = await call('fetchSockets', { rooms: [room] });
    assertFast(r, `in(${room}).fetchSockets()`);
    assert.equal(r.result.length, cs.length, `${cs.length} socket(s) in ${room}: ${JSON.stringify(r.result)}`);
    assert.deepEqual(idsOf(r.result), idsOf(cs));
    for (const [i, c] of cs.entries()) {
      const got = r.result.find((x) => x.id === c.id);
      assert.deepEqual([...got.rooms].sort(), [c.id, room].sort());
      assert.deepEqual(got.data, {});
      const hs = got.handshake;
      assert.deepEqual(Object.keys(hs).sort(), ['address', 'auth', 'headers', 'issued', 'query', 'secure', 'time', 'url', 'xdomain']);
      assert.deepEqual({ ...hs.query }, { channel: room, userId: `${tag}-c${i}`, EIO: '4', transport: 'websocket' });
      assert.deepEqual(hs.auth, { token: `${tag}-token`, n: 7 });
      assert.equal(hs.headers['x-fleet-test'], tag);
      assert.equal(hs.headers.host, `127.0.0.1:${server.port}`);
      assert.equal(hs.headers.upgrade, 'websocket');
      assert.equal(hs.address, '127.0.0.1');
      assert.equal(hs.xdomain, false);
      assert.equal(hs.secure, false);
      assert.equal(hs.url, `/socket.io/?channel=${room}&userId=${tag}-c${i}&EIO=4&transport=websocket`);
      assert.equal(typeof hs.issued, 'number');
      assert.ok(hs.issued >= before && hs.issued <= after, `issued ${hs.issued} within [${before}, ${after}]`);
      assert.equal(typeof hs.time, 'string');
      assert.equal(hs.time, new Date(hs.issued).toString(), 'time is the Date string of issued');
    }
  });

  // chatd: honours opts.rooms (union of members) and opts.except (minus members of any except
  // room; a socket id is a room) in REMOTE_FETCH.
  await sub('in(room).fetchSockets() and except(room) on the Node peer select chatd sockets by room', async (s) => {
    const tag = 'fetch-rooms';
    const a = await serverClients(s, fleet, { tag, room: `${tag}-a`, n: 3 });
    const b = await serverClients(s, fleet, { tag, room: `${tag}-b`, n: 2 });
    const [na] = await peerClients(s, fleet, { tag, room: `${tag}-a`, n: 1 });
    const [nb] = await peerClients(s, fleet, { tag, room: `${tag}-b`, n: 1 });
    const cases = [
      [{ rooms: [`${tag}-a`] }, [...a, na]],
      [{ rooms: [`${tag}-b`] }, [...b, nb]],
      [{ rooms: [`${tag}-a`, `${tag}-b`] }, [...a, na, ...b, nb]],
      [{ rooms: [`${tag}-a`], except: [a[0].id] }, [...a.slice(1), na]],
      [{ rooms: [`${tag}-a`, `${tag}-b`], except: [`${tag}-b`] }, [...a, na]],
      [{ rooms: [b[1].id] }, [b[1]]],
      [{ rooms: [`${tag}-nobody`] }, []],
    ];
    for (const [sel, want] of cases) {
      const r = await call('fetchSockets', sel);
      assertFast(r, `fetchSockets(${JSON.stringify(sel)})`);
      assert.deepEqual(idsOf(r.result), idsOf(want), `fetchSockets(${JSON.stringify(sel)})`);
    }
    // except alone: everyone but that room (only this subtest's users are counted)
    const r = await call('fetchSockets', { except: [`${tag}-a`] });
    assertFast(r, 'except(room).fetchSockets()');
    assert.deepEqual(idsOf(r.result.filter((x) => x.handshake.query.userId.startsWith(`${tag}-`))), idsOf([...b, nb]));
  });

  // chatd: answers ALL_ROOMS {uid, requestId, type: 1} with {requestId, rooms: [...]} listing every
  // room that has a member on that worker, socket-id rooms included.
  await sub('allRooms() on the Node peer includes rooms only chatd clients are in', async (s) => {
    const tag = 'all-rooms';
    const only = await serverClients(s, fleet, { tag, room: `${tag}-only-chatd`, n: 3 });
    const mixed = await serverClients(s, fleet, { tag, room: `${tag}-mixed`, n: 1 });
    const [n] = await peerClients(s, fleet, { tag, room: `${tag}-mixed`, n: 1 });
    const r = await call('allRooms');
    assertFast(r, 'allRooms()');
    const rooms = new Set(r.result);
    assert.deepEqual([...rooms].filter((x) => x.startsWith(`${tag}-`)).sort(), [`${tag}-mixed`, `${tag}-only-chatd`]);
    for (const c of [...only, ...mixed, n]) assert.ok(rooms.has(c.id), `the private room of ${userIdOf(c)} (${c.id})`);
    assert.equal(r.result.length, rooms.size, 'each room once');
  }, { skip: onCluster && 'the sharded adapter has no allRooms()' });

  // What chatd must do for each: see lib/fleet_checks.js.
  await sub('socketsJoin from the Node peer puts chatd sockets in a room its broadcasts reach; socketsLeave takes them out',
    (s) => checkJoinLeave(s, fleet, peer, 'join-leave'));
  // On Redis Cluster the join travels on the namespace channel and the broadcast on the room's,
  // which another shard may own: the sharded adapter gives no order between them, for Node
  // servers as for chatd.
  await sub('a broadcast right after socketsJoin from the Node peer reaches the chatd sockets it joined',
    (s) => checkJoinThenEmit(s, fleet, peer, 'join-then-emit', { withPeerClients: false }),
    { skip: onCluster && 'no order across shards between a join and a room broadcast (sharded adapter)' });
  for (const close of [false, true]) {
    await sub(`disconnectSockets(${close}) from the Node peer disconnects chatd sockets with "io server disconnect"`,
      (s) => checkDisconnect(s, fleet, peer, `disconnect-${close}`, close));
  }
  await sub('serverSideEmit from the Node peer reaches every chatd worker (chatd_adapter_server_side_emit_total)',
    () => checkServerSideEmitCounted(fleet, peer));

  // chatd: a SERVER_SIDE_EMIT with a requestId is answered by every worker with
  // {type: 6, requestId, data: {event, args, pid}} on socket.io-response#/# (pid: the worker's).
  await sub('serverSideEmitWithAck from the Node peer gets one answer per chatd worker, well before the timeout', async () => {
    const args = ['hello', 42, { nested: [true, null, 'ü😀'] }];
    const r = await call('serverSideEmitWithAck', { event: 'fleet-ping', args });
    assertFast(r, 'serverSideEmitWithAck()');
    assert.equal(r.result.length, workers, `one answer per chatd worker: ${JSON.stringify(r.result)}`);
    for (const answer of r.result) assert.deepEqual({ ...answer, pid: 0 }, { event: 'fleet-ping', args, pid: 0 });
    assert.deepEqual(r.result.map((x) => x.pid).sort((x, y) => x - y), server.workerPids(), 'answered by each worker process');
  });

  // chatd: answers BROADCAST (msgpack {uid, requestId, type: 7, packet, opts}) by delivering the
  // packet with an ack id to its matching sockets, publishing {type: 8, requestId, clientCount} at
  // once and, for each client ack, msgpack {type: 9, requestId, packet: <the ack's arguments>}.
  await sub('a broadcast with acks from the Node peer gets exactly one ack per client on both sides', async (s) => {
    const tag = 'emit-ack';
    const room = `${tag}-a`;
    const targets = [
      ...await serverClients(s, fleet, { tag, room, n: 4 }),
      ...await peerClients(s, fleet, { tag, room, n: 1 }),
      ...await peerClients(s, fleet, { tag: `${tag}-ws`, room, n: 1, transports: ['websocket'] }),
    ];
    const bystanders = await serverClients(s, fleet, { tag, room: `${tag}-b`, n: 1 });
    for (const c of [...targets, ...bystanders]) c.on('ping-ack', (x, ack) => ack({ userId: userIdOf(c), x }));
    const r = await call('emitWithAck', { rooms: [room], event: 'ping-ack', args: [7], timeout: 2000 });
    assert.equal(r.result.error, null, `no timeout; ${r.result.responses.length} of ${targets.length} acks`);
    assertFast(r, 'io.timeout(2000).to(room).emit("ping-ack")');
    const byUser = (x, y) => (x.userId < y.userId ? -1 : 1);
    assert.deepEqual(r.result.responses.sort(byUser), targets.map((c) => ({ userId: userIdOf(c), x: 7 })).sort(byUser));
  });
});
