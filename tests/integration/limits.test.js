'use strict';
// limits.max_connections: a connection over the limit gets a clear 503 (not a reset), is counted
// in chatd_rejected_total, and the clients already connected keep chatting.

const test = require('node:test');
const assert = require('node:assert/strict');
const { scope, collect, httpRequest, getMetrics, waitFor } = require('./lib/harness');

test('a connection over max_connections gets 503 and the connected clients go on', { timeout: 60_000 }, async (t) => {
  if (process.env.CHATD_TARGET === 'reference') return t.skip('max_connections is chatd\'s own');
  const s = scope(t);
  const redis = await s.redis();
  const server = await s.server({ workers: 1, redisUrl: redis.url, config: { limits: { max_connections: 2 } } });
  const a = await s.client(server.url, { channel: 'full', userId: 'a' });
  const b = await s.client(server.url, { channel: 'full', userId: 'b' });

  const res = await httpRequest(server.port, { path: '/healthz' });
  assert.equal(res.status, 503, `over the limit: ${JSON.stringify(res)}`);
  assert.match(res.body, /connection limit/);
  assert.equal(res.headers['retry-after'], '1');

  const got = collect(b, 'chat');
  a.emit('message', { userId: 'a', channel: 'full', body: 'still here' });
  await got.waitCount(1);
  assert.equal(got.items[0].body, 'still here');

  b.close();
  // Once a slot frees up, new connections are served again.
  await waitFor(async () => (await httpRequest(server.port, { path: '/healthz' })).status === 200,
    { timeout: 10_000, message: 'a freed slot to admit a new connection' });
  // Connections just closed (and refused ones, while they linger) still count for a moment.
  const metrics = await waitFor(async () => {
    const m = await getMetrics(server.port);
    return m.status === 200 && m;
  }, { timeout: 10_000, message: '/metrics to be admitted' });
  const rejected = metrics.samples.filter((m) => m.name === 'chatd_rejected_total')
    .reduce((n, m) => n + m.value, 0);
  assert.ok(rejected >= 1, `chatd_rejected_total counts the refusal (got ${rejected})`);
});
