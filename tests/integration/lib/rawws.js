'use strict';
/*
 * A raw WebSocket / Engine.IO / Socket.IO client over net.Socket, for the tests that must see or
 * send exact wire bytes: malformed frames, exact packets, a client that never answers pings, the
 * byte-for-byte text of a delivered `chat` packet. socket.io-client cannot do any of that.
 *
 * API
 *   rawHttp(port, requestText, {timeout, localAddress}) -> Promise<{status, headers, body, raw}>  sends bytes as
 *       they are and reads until the server closes (or the response is complete by
 *       Content-Length, or the timeout: then whatever arrived); status null if nothing parsed
 *   upgradeRequest(path, {key, headers}) -> string   an RFC 6455 upgrade request
 *   openWebSocket(port, {path, headers, timeout}) -> Promise<RawWebSocket>  fails unless 101 with
 *       the right Sec-WebSocket-Accept
 *   RawWebSocket
 *     sendText(text), sendBinary(buf)               masked data frames
 *     sendFrame({opcode, payload, mask = true, fin = true, rsv = 0})   any frame, even invalid
 *     sendRaw(buf)                                  bytes as they are
 *     next({timeout, match, label}) -> Promise<{opcode, data, text}>   the next data message
 *         (matching `match(msg)` if given; earlier non-matching ones stay queued)
 *     messages                                      every data message received, in order
 *     waitCloseFrame({timeout}) -> Promise<{code, reason}>  the server's close frame (code null
 *         if the TCP connection ended without one)
 *     waitClosed({timeout}) -> Promise<{code, reason, tcpClosed}>  resolves when the TCP
 *         connection ends; code/reason from the server's close frame (null if none came)
 *     closeFrame                                    the server's close frame {code, reason}, or null
 *     close(code) / destroy()
 *   openEngineIO(port, {query, autoPong = true, path = '/socket.io/', timeout}) ->
 *       Promise<EioClient> a WebSocket-only Engine.IO v4 session, open packet already read
 *   EioClient (extends RawWebSocket's API through .ws)
 *     open                                          the parsed open packet; openText its raw text
 *     pings                                         number of server pings seen
 *     send(packetText)                              one Engine.IO packet (one text frame)
 *     next({timeout, match}) -> Promise<string>     next Engine.IO packet text other than ping
 *     connect({nsp, auth, timeout}) -> Promise<string>  sends 40… and returns the reply text
 *     waitClosed(...)                               as RawWebSocket
 */

const crypto = require('node:crypto');
const net = require('node:net');
const { waitFor, withTimeout } = require('./harness');

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function parseHead(text) {
  const [statusLine, ...lines] = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine || '');
  const headers = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: m ? Number(m[1]) : null, statusLine, headers };
}

function rawHttp(port, requestText, { timeout = 3000, host = '127.0.0.1', localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host, localAddress });
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      const raw = buf.toString('latin1');
      const headEnd = raw.indexOf('\r\n\r\n');
      const head = parseHead(headEnd >= 0 ? raw.slice(0, headEnd) : raw);
      const body = headEnd >= 0 ? buf.subarray(Buffer.byteLength(raw.slice(0, headEnd + 4), 'latin1')).toString('utf8') : '';
      resolve({ ...head, body, raw });
    };
    const timer = setTimeout(finish, timeout);
    sock.on('connect', () => sock.write(requestText));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const raw = buf.toString('latin1');
      const headEnd = raw.indexOf('\r\n\r\n');
      if (headEnd >= 0) {
        const head = parseHead(raw.slice(0, headEnd));
        const len = head.headers['content-length'];
        if (len !== undefined && buf.length >= headEnd + 4 + Number(len)) finish();
        if (head.status === 101) finish();
      }
    });
    sock.on('error', (e) => {
      if (buf.length) finish();
      else if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(e);
      }
    });
    sock.on('close', finish);
  });
}

function upgradeRequest(path, { key = crypto.randomBytes(16).toString('base64'), headers = {}, host = '127.0.0.1' } = {}) {
  const all = {
    Host: host,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  let text = `GET ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(all)) if (v !== undefined && v !== null) text += `${k}: ${v}\r\n`;
  return `${text}\r\n`;
}

function acceptFor(key) {
  return crypto.createHash('sha1').update(key + WS_GUID).digest('base64');
}

class RawWebSocket {
  constructor(sock, leftover) {
    this.sock = sock;
    this.messages = [];
    this.consumed = new Set();
    this.closeFrame = null;
    this.tcpClosed = false;
    this.pongs = [];
    this.onMessage = null; // hook: called for each data message before it is queued
    this.buf = Buffer.alloc(0);
    this.fragments = null;
    this.closedPromise = new Promise((resolve) => {
      sock.on('close', () => {
        this.tcpClosed = true;
        resolve();
      });
    });
    sock.on('error', () => {
      // a reset is one of the ways a server ends a connection; waitClosed reports it
    });
    sock.on('data', (d) => this.feed(d));
    if (leftover && leftover.length) this.feed(leftover);
  }

  feed(data) {
    this.buf = Buffer.concat([this.buf, data]);
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0];
      const b1 = this.buf[1];
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      const masked = (b1 & 0x80) !== 0;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      let maskKey = null;
      if (masked) {
        if (this.buf.length < off + 4) return;
        maskKey = this.buf.subarray(off, off + 4);
        off += 4;
      }
      if (this.buf.length < off + len) return;
      let payload = Buffer.from(this.buf.subarray(off, off + len));
      this.buf = this.buf.subarray(off + len);
      if (maskKey) for (let i = 0; i < payload.length; i++) payload[i] ^= maskKey[i % 4];
      this.onFrame({ fin, opcode, payload, masked });
    }
  }

  onFrame({ fin, opcode, payload, masked }) {
    if (masked) this.serverMaskedFrame = true; // servers must not mask (RFC 6455 5.1)
    if (opcode === 0x8) {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : null;
      const reason = payload.length > 2 ? payload.subarray(2).toString('utf8') : '';
      if (!this.closeFrame) {
        this.closeFrame = { code, reason };
        // Echo the close, as a well-behaved client does.
        try {
          this.sendFrame({ opcode: 0x8, payload: payload.subarray(0, 2) });
        } catch {
          // socket already gone
        }
      }
      return;
    }
    if (opcode === 0x9) {
      this.sendFrame({ opcode: 0xa, payload });
      return;
    }
    if (opcode === 0xa) {
      this.pongs.push(payload);
      return;
    }
    if (opcode === 0x0) {
      if (!this.fragments) return;
      this.fragments.parts.push(payload);
      if (!fin) return;
      const whole = Buffer.concat(this.fragments.parts);
      const op = this.fragments.opcode;
      this.fragments = null;
      this.deliver(op, whole);
      return;
    }
    if (!fin) {
      this.fragments = { opcode, parts: [payload] };
      return;
    }
    this.deliver(opcode, payload);
  }

  deliver(opcode, data) {
    const msg = { opcode, data, text: opcode === 0x1 ? data.toString('utf8') : null };
    if (this.onMessage && this.onMessage(msg) === false) return;
    this.messages.push(msg);
    if (this.waiter) this.waiter();
  }

  sendFrame({ opcode, payload = Buffer.alloc(0), mask = true, fin = true, rsv = 0 }) {
    const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
    const len = data.length;
    let header;
    if (len < 126) {
      header = Buffer.alloc(2);
      header[1] = len;
    } else if (len < 65536) {
      header = Buffer.alloc(4);
      header[1] = 126;
      header.writeUInt16BE(len, 2);
    } else {
      header = Buffer.alloc(10);
      header[1] = 127;
      header.writeBigUInt64BE(BigInt(len), 2);
    }
    header[0] = (fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | (opcode & 0x0f);
    let body = data;
    if (mask) {
      header[1] |= 0x80;
      const key = crypto.randomBytes(4);
      body = Buffer.alloc(len);
      for (let i = 0; i < len; i++) body[i] = data[i] ^ key[i % 4];
      header = Buffer.concat([header, key]);
    }
    this.sock.write(Buffer.concat([header, body]));
  }

  sendText(text) {
    this.sendFrame({ opcode: 0x1, payload: Buffer.from(text, 'utf8') });
  }

  sendBinary(buf) {
    this.sendFrame({ opcode: 0x2, payload: buf });
  }

  sendRaw(buf) {
    this.sock.write(buf);
  }

  next({ timeout = 3000, match, label } = {}) {
    const find = () => {
      for (let i = 0; i < this.messages.length; i++) {
        if (this.consumed.has(i)) continue;
        if (!match || match(this.messages[i])) {
          this.consumed.add(i);
          return this.messages[i];
        }
      }
      return null;
    };
    const found = find();
    if (found) return Promise.resolve(found);
    return waitFor(() => {
      if (this.tcpClosed) {
        const hit = find();
        if (hit) return hit;
        throw new Error(`connection closed (close frame ${JSON.stringify(this.closeFrame)}) while waiting for ${label || 'a message'}`);
      }
      return find();
    }, {
      timeout,
      interval: 5,
      message: () => `${label || 'a WebSocket message'}; received so far: ${JSON.stringify(this.messages.map((m) => m.text ?? `<binary ${m.data.length}>`)).slice(0, 500)}`,
    });
  }

  // Resolves with the server's close frame ({code, reason}), or {code: null} if the connection
  // ended without one.
  async waitCloseFrame({ timeout = 5000 } = {}) {
    await waitFor(() => this.closeFrame || this.tcpClosed, { timeout, interval: 5, message: 'a close frame from the server' });
    return this.closeFrame || { code: null, reason: null };
  }

  async waitClosed({ timeout = 5000 } = {}) {
    await withTimeout(this.closedPromise, timeout, () => (this.closeFrame
      ? `the server to close the TCP connection: its close frame ${JSON.stringify(this.closeFrame)} came and was answered, but the connection stays open`
      : 'the server to close the connection: no close frame came and the connection stays open'));
    return { code: this.closeFrame ? this.closeFrame.code : null, reason: this.closeFrame ? this.closeFrame.reason : null, tcpClosed: true };
  }

  close(code = 1000) {
    if (this.tcpClosed) return;
    try {
      const p = Buffer.alloc(2);
      p.writeUInt16BE(code, 0);
      this.sendFrame({ opcode: 0x8, payload: p });
      this.sock.end();
    } catch {
      // already gone
    }
    setTimeout(() => this.sock.destroy(), 200).unref();
  }

  destroy() {
    this.sock.destroy();
  }
}

function openWebSocket(port, { path = '/socket.io/?EIO=4&transport=websocket', headers = {}, timeout = 3000, host = '127.0.0.1' } = {}) {
  return new Promise((resolve, reject) => {
    const key = crypto.randomBytes(16).toString('base64');
    const sock = net.connect({ port, host });
    sock.setNoDelay(true);
    let buf = Buffer.alloc(0);
    let done = false;
    const fail = (e) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      reject(e);
    };
    const timer = setTimeout(() => fail(new Error(`WebSocket upgrade of ${path} on port ${port}: no 101 within ${timeout} ms; got ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`)), timeout);
    sock.on('connect', () => sock.write(upgradeRequest(path, { key, headers, host })));
    sock.on('error', fail);
    sock.on('close', () => fail(new Error(`WebSocket upgrade of ${path}: connection closed; got ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`)));
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = parseHead(buf.subarray(0, end).toString('latin1'));
      if (head.status !== 101) return fail(new Error(`WebSocket upgrade of ${path}: expected 101, got ${JSON.stringify(buf.toString('latin1').slice(0, 300))}`));
      if (head.headers['sec-websocket-accept'] !== acceptFor(key)) {
        return fail(new Error(`WebSocket upgrade: bad Sec-WebSocket-Accept ${head.headers['sec-websocket-accept']} (expected ${acceptFor(key)})`));
      }
      done = true;
      clearTimeout(timer);
      sock.removeListener('data', onData);
      sock.removeAllListeners('close');
      sock.removeAllListeners('error');
      resolve(new RawWebSocket(sock, buf.subarray(end + 4)));
      return undefined;
    };
    sock.on('data', onData);
  });
}

function queryString(query) {
  return Object.entries(query).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

async function openEngineIO(port, { query = {}, autoPong = true, path = '/socket.io/', timeout = 3000 } = {}) {
  const qs = queryString({ ...query, EIO: '4', transport: 'websocket' });
  const ws = await openWebSocket(port, { path: `${path}?${qs}`, timeout });
  const client = {
    ws,
    pings: 0,
    autoPong,
    open: null,
    openText: null,
    send(text) {
      ws.sendText(text);
    },
    next({ timeout: t = 3000, match, label } = {}) {
      return ws.next({ timeout: t, label, match: (m) => m.opcode === 0x1 && (!match || match(m.text)) }).then((m) => m.text);
    },
    async connect({ nsp = '/', auth, timeout: t = 3000 } = {}) {
      const nspPart = nsp === '/' ? '' : `${nsp},`;
      ws.sendText(`40${nspPart}${auth !== undefined ? JSON.stringify(auth) : ''}`);
      return client.next({ timeout: t, label: `the reply to CONNECT ${nsp}`, match: (text) => text.startsWith(`4${'0'}${nspPart}`) || text.startsWith(`44${nspPart}`) || text.startsWith('44') });
    },
    waitClosed: (opts) => ws.waitClosed(opts),
    close: () => ws.close(),
    destroy: () => ws.destroy(),
  };
  ws.onMessage = (msg) => {
    if (msg.opcode === 0x1 && msg.text === '2') {
      client.pings++;
      if (client.autoPong) ws.sendText('3');
      return false;
    }
    return true;
  };
  const openText = await client.next({ timeout, label: 'the Engine.IO open packet' });
  if (!openText.startsWith('0')) throw new Error(`expected the Engine.IO open packet first, got ${JSON.stringify(openText)}`);
  client.openText = openText;
  client.open = JSON.parse(openText.slice(1));
  return client;
}

module.exports = { rawHttp, upgradeRequest, openWebSocket, openEngineIO, acceptFor, queryString, parseHead };
