'use strict';
/*
 * Engine.IO long-polling by hand, for the tests that must see exact polling requests and answers
 * (socket.io-client hides them), and the figures that tell whether connections moved between
 * workers.
 *
 * API
 *   sidSlot(sid) -> number               the worker slot a chatd sid names (its first byte)
 *   handshake(port, {query, headers, agent}) -> Promise<{sid, open, res}>  GET without sid
 *   poll(port, sid, {headers, agent, timeout}) -> Promise<{status, headers, body, packets}>
 *   post(port, sid, body, {headers, agent}) -> Promise<{status, headers, body}>
 *   packetsOf(body) -> string[]          a polling payload split at the record separator
 *   handovers(port) -> Promise<number>   chatd_handovers_total summed over the workers
 *   sessionsTotal(port) -> Promise<number>  chatd_sessions summed over the workers
 *   EIO_ERRORS                           the JSON body of each Engine.IO error code
 *   assertEioError(res, code, what)      res is 400, application/json, that code's body
 */
const assert = require('node:assert/strict');
const { httpRequest, getMetrics } = require('./harness');

const EIO_ERRORS = {
  0: '{"code":0,"message":"Transport unknown"}',
  1: '{"code":1,"message":"Session ID unknown"}',
  2: '{"code":2,"message":"Bad handshake method"}',
  3: '{"code":3,"message":"Bad request"}',
  5: '{"code":5,"message":"Unsupported protocol version"}',
};

function assertEioError(res, code, what) {
  assert.equal(res.status, 400, `${what}: status (${res.body})`);
  assert.match(res.headers['content-type'] || '', /^application\/json/, `${what}: content-type`);
  assert.equal(res.body, EIO_ERRORS[code], `${what}: body`);
}

const URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function sidSlot(sid) {
  const v0 = URL_ALPHABET.indexOf(sid[0]);
  const v1 = URL_ALPHABET.indexOf(sid[1]);
  return (v0 << 2) | (v1 >> 4);
}

function queryString(query) {
  return Object.entries(query).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

function packetsOf(body) {
  return body.split('\x1e');
}

async function handshake(port, { query = {}, headers = {}, agent = false } = {}) {
  const q = queryString({ EIO: 4, transport: 'polling', ...query });
  const res = await httpRequest(port, { path: `/socket.io/?${q}`, headers, agent });
  if (res.status !== 200 || !res.body.startsWith('0{')) {
    throw new Error(`polling handshake: ${res.status} ${JSON.stringify(res.body.slice(0, 200))}`);
  }
  const open = JSON.parse(res.body.slice(1));
  return { sid: open.sid, open, res };
}

async function poll(port, sid, { headers = {}, agent = false, timeout = 10000 } = {}) {
  const res = await httpRequest(port, { path: `/socket.io/?EIO=4&transport=polling&sid=${sid}`, headers, agent, timeout });
  return { ...res, packets: res.status === 200 ? packetsOf(res.body) : [] };
}

function post(port, sid, body, { headers = {}, agent = false, timeout = 5000 } = {}) {
  return httpRequest(port, {
    method: 'POST',
    path: `/socket.io/?EIO=4&transport=polling&sid=${sid}`,
    headers: { 'Content-Type': 'text/plain;charset=UTF-8', ...headers },
    body,
    agent,
    timeout,
  });
}

async function sumMetric(port, name) {
  const m = await getMetrics(port);
  return m.samples.filter((x) => x.name === name).reduce((a, x) => a + x.value, 0);
}

const handovers = (port) => sumMetric(port, 'chatd_handovers_total');
const sessionsTotal = (port) => sumMetric(port, 'chatd_sessions');

module.exports = {
  sidSlot, handshake, poll, post, packetsOf, handovers, sessionsTotal, queryString, EIO_ERRORS,
  assertEioError,
};
