'use strict';
// The socket.io-client browser bundle chatd serves under /socket.io/ (worker/client_bundle.h), as
// Node's socket.io serves its client: the npm package's files byte for byte, the same
// Content-Type, Cache-Control and ETag (the client version), 304 on If-None-Match, HEAD. Each
// answer is compared with a stock socket.io 4 server's for the same request.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { scope, httpRequest, isReference } = require('./lib/harness');

const DIST = path.join(__dirname, '..', 'node_modules', 'socket.io-client', 'dist');
const VERSION = require('socket.io-client/package.json').version;
const FILES = ['socket.io.js', 'socket.io.min.js', 'socket.io.js.map', 'socket.io.min.js.map'];
const skip = isReference && 'the bundle route is chatd\'s; the reference server is the comparison';

// A stock socket.io server (serveClient: true, its default) on a free port.
async function nodeServer(s) {
  const { Server } = require('socket.io');
  const srv = http.createServer();
  const io = new Server(srv);
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  s.defer(() => new Promise((resolve) => io.close(() => resolve())));
  return srv.address().port;
}

// chatd and a stock socket.io server; ask(req) sends `req` to both.
async function pair(t) {
  const s = scope(t);
  const chatd = await s.chatd({ workers: 1, redisUrl: (await s.redis()).url });
  const node = await nodeServer(s);
  return async (req) => ({ chatd: await httpRequest(chatd.port, req), node: await httpRequest(node, req) });
}

const CACHE_HEADERS = ['content-type', 'cache-control', 'etag'];
const pick = (res, names) => Object.fromEntries(names.map((n) => [n, res.headers[n]]));

test('each client file is the package\'s, with socket.io\'s type, cache headers and ETag', { skip }, async (t) => {
  const s = scope(t);
  const chatd = await s.chatd({ workers: 1, redisUrl: (await s.redis()).url });
  const node = await nodeServer(s);
  for (const name of FILES) {
    const res = await httpRequest(chatd.port, { path: `/socket.io/${name}` });
    const want = fs.readFileSync(path.join(DIST, name), 'utf8');
    assert.equal(res.status, 200, `${name}: ${res.body.slice(0, 200)}`);
    assert.equal(res.body.length, want.length, `${name}: length`);
    assert.ok(res.body === want, `${name}: the bytes of ${path.join(DIST, name)}`);
    assert.equal(res.headers.etag, `"${VERSION}"`);
    assert.equal(res.headers['content-type'],
      name.endsWith('.map') ? 'application/json; charset=utf-8' : 'application/javascript; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'public, max-age=0');
    const ref = await httpRequest(node, { path: `/socket.io/${name}` });
    assert.equal(ref.status, 200);
    assert.deepEqual(pick(res, CACHE_HEADERS), pick(ref, CACHE_HEADERS), `${name}: headers as socket.io's`);
  }
});

test('a query string after the file name is ignored, as socket.io does', { skip }, async (t) => {
  const ask = await pair(t);
  const { chatd, node } = await ask({ path: `/socket.io/socket.io.min.js?v=${VERSION}` });
  assert.equal(chatd.status, 200);
  assert.equal(node.status, 200);
  assert.equal(chatd.headers.etag, `"${VERSION}"`);
});

test('If-None-Match with the ETag, strong or weak, answers 304 without a body', { skip }, async (t) => {
  const ask = await pair(t);
  for (const etag of [`"${VERSION}"`, `W/"${VERSION}"`]) {
    const { chatd, node } = await ask({ path: '/socket.io/socket.io.min.js', headers: { 'If-None-Match': etag } });
    assert.equal(chatd.status, 304, etag);
    assert.equal(node.status, 304, etag);
    assert.equal(chatd.body, '');
    assert.equal(chatd.headers['content-length'], undefined, 'no Content-Length on a 304');
    assert.deepEqual(pick(chatd, CACHE_HEADERS), pick(node, CACHE_HEADERS), `${etag}: headers as socket.io's`);
  }
});

test('If-None-Match with another ETag gets the file', { skip }, async (t) => {
  const ask = await pair(t);
  const { chatd, node } = await ask({ path: '/socket.io/socket.io.min.js', headers: { 'If-None-Match': '"0.0.1"' } });
  assert.equal(chatd.status, 200);
  assert.equal(node.status, 200);
  assert.ok(chatd.body.length > 1000);
});

test('HEAD answers the GET\'s head without the body', { skip }, async (t) => {
  const ask = await pair(t);
  const { chatd, node } = await ask({ method: 'HEAD', path: '/socket.io/socket.io.min.js' });
  assert.equal(chatd.status, 200);
  assert.equal(node.status, 200);
  assert.equal(chatd.body, '');
  assert.equal(Number(chatd.headers['content-length']), fs.statSync(path.join(DIST, 'socket.io.min.js')).size);
  assert.deepEqual(pick(chatd, CACHE_HEADERS), pick(node, CACHE_HEADERS));
});

test('a keep-alive connection goes on after a 304 and a HEAD', { skip }, async (t) => {
  const s = scope(t);
  const chatd = await s.chatd({ workers: 1, redisUrl: (await s.redis()).url });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  s.defer(() => agent.destroy());
  const sockets = new Set();
  const go = (req) => httpRequest(chatd.port, { agent, ...req });
  agent.on('free', (sock) => sockets.add(sock));
  assert.equal((await go({ method: 'HEAD', path: '/socket.io/socket.io.min.js' })).status, 200);
  assert.equal((await go({ path: '/socket.io/socket.io.min.js', headers: { 'If-None-Match': `"${VERSION}"` } })).status, 304);
  const last = await go({ path: '/socket.io/socket.io.js' });
  assert.equal(last.status, 200);
  assert.equal(last.body.length, fs.readFileSync(path.join(DIST, 'socket.io.js'), 'utf8').length);
  assert.equal(sockets.size, 1, 'the three requests shared one connection');
});

test('another method on a client file is refused with 405', { skip }, async (t) => {
  const s = scope(t);
  const chatd = await s.chatd({ workers: 1, redisUrl: (await s.redis()).url });
  const res = await httpRequest(chatd.port, { method: 'POST', path: '/socket.io/socket.io.min.js', body: 'x' });
  assert.equal(res.status, 405);
  assert.equal(res.headers.allow, 'GET, HEAD');
});

test('HEAD of the demo page answers its head alone, and the connection goes on', { skip }, async (t) => {
  const s = scope(t);
  const chatd = await s.chatd({ workers: 1, redisUrl: (await s.redis()).url });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  s.defer(() => agent.destroy());
  const head = await httpRequest(chatd.port, { agent, method: 'HEAD', path: '/' });
  // A body after the head would be read as this answer's status line.
  const get = await httpRequest(chatd.port, { agent, path: '/' });
  assert.equal(head.status, 200);
  assert.equal(get.status, 200);
  assert.equal(head.body, '');
  assert.equal(head.headers['content-length'], String(Buffer.byteLength(get.body)));
  assert.equal(head.headers['content-type'], 'text/html; charset=utf-8');
});
