'use strict';
// chatd as the REQUESTER in a mixed fleet: GET /presence?room=<room> on chatd asks the whole fleet
// (ALL_ROOMS / REMOTE_FETCH on socket.io-request#/#, answers on socket.io-response#/#) who is in a
// room, and answers within well under a second when every node answers, or after its request
// timeout with the silent nodes reported missing. The reference server has no such endpoint, so
// the file is chatd-only (skipped, with the reason, under CHATD_TARGET=reference).
//
// The endpoint, as these tests expect it:
//   GET /presence?room=<room>  ->  200, Content-Type application/json, body
//     {"room": <room>,
//      "sockets": [{"id": <Socket.IO id>, "userId": <handshake.query.userId>, "node": <string>}],
//      "nodes": {"answered": <nodes whose sockets are in the answer, the asking worker included>,
//                "missing": [<one entry per node that did not answer in time>]},
//      "elapsed_ms": <number>}
//   every socket of the room on any node, each once, in any order; `node` is the same string for
//   the sockets of one node and differs between nodes (the adapter uid where chatd knows it: the
//   classic adapter's answers carry no uid, so for another node it may be any label of that
//   answer; for the same reason `missing` is checked by its length only).
//   GET /presence without room -> 400.

const test = require('node:test');
const assert = require('node:assert/strict');
const { scope, httpRequest, isReference } = require('./lib/harness');
const { startFleet, serverClients, peerClients, FAST_MS } = require('./lib/fleet');
const { slotOf } = require('./lib/process');
const { userIdOf } = require('./lib/fleet_checks');

const SKIP = isReference && 'GET /presence is chatd\'s own endpoint (chatd as the requester); the reference seed server has none';

async function presence(port, room, { timeout = 3000 } = {}) {
  const t0 = Date.now();
  const res = await httpRequest(port, { path: `/presence?room=${encodeURIComponent(room)}`, timeout });
  const took = Date.now() - t0;
  assert.equal(res.status, 200, `GET /presence?room=${room}: ${res.status} ${res.body.slice(0, 200)}`);
  assert.match(res.headers['content-type'] || '', /^application\/json/);
  return { body: JSON.parse(res.body), took };
}

// The sockets of the answer grouped by `node`, as sorted lists of user ids, sorted.
const groupsByNode = (sockets) => {
  const m = new Map();
  for (const x of sockets) m.set(x.node, [...(m.get(x.node) || []), x.userId]);
  return [...m.values()].map((g) => g.sort()).sort();
};

test('mixed fleet: chatd asks the fleet who is in a room (GET /presence)', { timeout: 120_000, skip: SKIP }, async (t) => {
  const fleet = await startFleet(t);
  const sub = (name, fn) => t.test(name, { timeout: 30_000 }, (st) => fn(scope(st), st));

  await sub('GET /presence lists every member of a room on both chatd workers and on the Node peer, by node', async (s) => {
    const tag = 'presence';
    const chatd = await serverClients(s, fleet, { tag, room: tag, n: 4 });
    const node = await peerClients(s, fleet, { tag, room: tag, n: 2 });
    await serverClients(s, fleet, { tag: `${tag}-x`, room: `${tag}-x`, n: 1 });
    await peerClients(s, fleet, { tag: `${tag}-x`, room: `${tag}-x`, n: 1 });
    const { body, took } = await presence(fleet.server.port, tag);
    assert.equal(body.room, tag);
    const bySocket = (x, y) => (x.id < y.id ? -1 : 1);
    assert.deepEqual(body.sockets.map(({ id, userId }) => ({ id, userId })).sort(bySocket),
      [...chatd, ...node].map((c) => ({ id: c.id, userId: userIdOf(c) })).sort(bySocket));
    for (const x of body.sockets) assert.equal(typeof x.node, 'string', `node of ${x.userId}`);
    const holders = new Map();
    for (const c of chatd) holders.set(`chatd worker ${slotOf(c)}`, [...(holders.get(`chatd worker ${slotOf(c)}`) || []), userIdOf(c)]);
    holders.set('node peer', node.map(userIdOf));
    assert.deepEqual(groupsByNode(body.sockets), [...holders.values()].map((g) => g.sort()).sort(), 'one node label per holding node');
    assert.deepEqual(body.nodes, { answered: 1 + fleet.workers, missing: [] });
    assert.equal(typeof body.elapsed_ms, 'number');
    assert.ok(body.elapsed_ms < FAST_MS && took < FAST_MS, `answered in ${body.elapsed_ms} ms (HTTP ${took} ms); limit ${FAST_MS}`);
  });

  await sub('GET /presence of a room nobody is in is an empty list that every node answered', async () => {
    const { body } = await presence(fleet.server.port, 'presence-nobody');
    assert.deepEqual({ ...body, elapsed_ms: 0 }, { room: 'presence-nobody', sockets: [], nodes: { answered: 1 + fleet.workers, missing: [] }, elapsed_ms: 0 });
    assert.ok(body.elapsed_ms < FAST_MS, `answered in ${body.elapsed_ms} ms`);
  });

  await sub('GET /presence without a room is a 400', async () => {
    const res = await httpRequest(fleet.server.port, { path: '/presence' });
    assert.equal(res.status, 400, res.body);
  });

  // The peer is stopped (SIGSTOP): still subscribed, so PUBSUB NUMSUB counts it, but silent.
  await sub('a node that does not answer is reported missing once chatd stops waiting, and the rest is answered', async (s) => {
    const tag = 'presence-frozen';
    const chatd = await serverClients(s, fleet, { tag, room: tag, n: 2 });
    await peerClients(s, fleet, { tag, room: tag, n: 1 });
    fleet.peer.freeze();
    s.defer(() => fleet.peer.thaw());
    const { body, took } = await presence(fleet.server.port, tag, { timeout: 10_000 });
    fleet.peer.thaw();
    assert.deepEqual(body.sockets.map((x) => x.userId).sort(), chatd.map(userIdOf).sort(), 'the chatd members (the peer\'s is unknown)');
    assert.equal(body.nodes.answered, fleet.workers);
    assert.equal(body.nodes.missing.length, 1, `one node missing: ${JSON.stringify(body.nodes.missing)}`);
    assert.ok(took < 7000, `gave up on the silent node within 7 s (the adapter's requestsTimeout is 5 s): ${took} ms`);
  });
});
