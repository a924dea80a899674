'use strict';
// adapter.specific_response_channel: chatd answers a requester on
// "socket.io-response#/#<requester uid>#" (as the adapter's publishOnSpecificResponseChannel),
// never on the shared response channel, and the Node peer's fetchSockets() still resolves.

const test = require('node:test');
const assert = require('node:assert/strict');
const { createClient } = require('redis');
const { isReference } = require('./lib/harness');
const { startFleet, serverClients } = require('./lib/fleet');

const SKIP = isReference && 'a chatd option (the reference server answers on the shared channel)';

test('adapter.specific_response_channel: answers go to the requester\'s own channel only', { timeout: 60_000, skip: SKIP }, async (t) => {
  const fleet = await startFleet(t, { config: { adapter: { specific_response_channel: true } } });
  const seen = [];
  const watcher = createClient({ url: fleet.redis.url });
  watcher.on('error', () => {});  // the harness stops Redis when the test ends
  await watcher.connect();
  await watcher.pSubscribe('socket.io-response#/#*', (message, channel) => seen.push(channel));

  const tag = 'specific';
  const ours = await serverClients(fleet.s, fleet, { tag, room: tag, n: 2 });
  const r = await fleet.peer.call('fetchSockets', { rooms: [tag] });
  assert.equal(r.result.length, ours.length, `every chatd socket of ${tag}: ${JSON.stringify(r.result)}`);
  assert.ok(r.elapsedMs < 1000, `fetchSockets took ${r.elapsedMs} ms`);
  await watcher.ping();  // the watcher has read what was published before
  assert.ok(seen.length >= fleet.workers, `one answer per chatd worker: ${JSON.stringify(seen)}`);
  for (const channel of seen) {
    assert.match(channel, /^socket\.io-response#\/#.+#$/, `an answer on ${channel}, not the requester's own channel`);
  }
  await watcher.quit();
});
