'use strict';
/*
 * Helpers for the process-model tests (process_*.test.js): what the master says about its workers,
 * which worker slot serves a client, the listening sockets a process holds, and rooms of clients
 * that record every chat they get so that "exactly once" can be checked.
 *
 *   masterWorkers(server) -> Map pid -> {slot, generation}   every worker the master started (log)
 *   liveWorkers(server) -> [{pid, slot, generation}]          children alive now
 *   logTime(line) -> ms since the epoch of a chatd log line
 *   slotOf(socket) -> worker slot that owns a socket.io-client's Engine.IO session
 *   listeningInodes(port) -> Set of socket inodes listening on 127.0.0.1:port
 *   socketInodes(pid) -> Set of socket inodes the process holds
 *   member(s, url, room, userId, opts) -> Member {socket, userId, room, slot (of the latest
 *       connection), chats (collect), disconnects [{reason, details}]}
 *   say(member, body) -> Promise: emits `message` and waits for the server's ack
 *   checkExactlyOnce(member, bodies) -> string[] problems (missing, duplicated, own echo)
 */

const fs = require('node:fs');
const { collect, connectClient } = require('./harness');

const STARTED = /worker (\d+) started: pid (\d+), generation (\d+)/;

function masterWorkers(server) {
  const out = new Map();
  for (const line of server.logs) {
    const m = STARTED.exec(line);
    if (m) out.set(Number(m[2]), { slot: Number(m[1]), generation: Number(m[3]) });
  }
  return out;
}

function liveWorkers(server) {
  const known = masterWorkers(server);
  return server.workerPids().filter((pid) => known.has(pid)).map((pid) => ({ pid, ...known.get(pid) }));
}

function logTime(line) {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) /.exec(line);
  if (!m) throw new Error(`not a chatd log line: ${line}`);
  return Date.parse(m[1]);
}

// chatd's Engine.IO session ids carry the owning worker slot in their first byte (base64url).
function slotOf(socket) {
  const sid = socket.io.engine && socket.io.engine.id;
  if (!sid) throw new Error('socket has no Engine.IO session id');
  return Buffer.from(sid, 'base64url')[0];
}

// /proc/net/tcp{,6}: "sl local_address rem_address st ... inode"; st 0A is LISTEN.
function listeningInodes(port) {
  const out = new Set();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue;
      if (parseInt(f[1].split(':')[1], 16) === port) out.add(f[9]);
    }
  }
  return out;
}

function socketInodes(pid) {
  const out = new Set();
  let fds = [];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

async function member(s, url, room, userId, opts = {}) {
  const socket = await connectClient(url, { channel: room, userId, ...opts });
  s.track(socket);
  const m = { socket, userId, room, slot: slotOf(socket), chats: collect(socket, 'chat'), disconnects: [] };
  socket.on('disconnect', (reason, details) => m.disconnects.push({ reason, details }));
  socket.on('connect', () => { m.slot = slotOf(socket); });
  return m;
}

function say(m, body, { timeout = 5000 } = {}) {
  return m.socket.timeout(timeout).emitWithAck('message', { userId: m.userId, channel: m.room, body });
}

function checkExactlyOnce(m, bodies) {
  const problems = [];
  const counts = new Map();
  for (const p of m.chats.items) counts.set(p && p.body, (counts.get(p && p.body) || 0) + 1);
  for (const body of bodies) {
    const n = counts.get(body) || 0;
    if (n !== 1) problems.push(`${m.userId} got ${body} ${n} times`);
  }
  for (const p of m.chats.items) {
    if (p && p.userId === m.userId) problems.push(`${m.userId} got its own message ${p.body} back`);
  }
  return problems;
}

module.exports = {
  masterWorkers,
  liveWorkers,
  logTime,
  slotOf,
  listeningInodes,
  socketInodes,
  member,
  say,
  checkExactlyOnce,
};
