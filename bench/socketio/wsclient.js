'use strict';
// A minimal RFC 6455 client on net.Socket for the Socket.IO load generator: a hand-written upgrade
// request, masked client frames (built once where the payload repeats), and a parser for the server's
// unmasked frames. Only what the bench needs: text, binary, ping/pong, close; fragments are joined.
const net = require('net');
const crypto = require('crypto');

// One mask key for every frame: frames can then be built (and masked) once and sent many times.
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** A complete masked client frame (FIN set) carrying `payload` with `opcode` (1 text, 2 binary, 8 close, 10 pong). */
function frame(opcode, payload) {
  if (typeof payload === 'string') payload = Buffer.from(payload, 'utf8');
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + 4 + n);
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65536) { out[1] = 0x80 | 126; out.writeUInt16BE(n, 2); }
  else { out[1] = 0x80 | 127; out.writeUInt32BE(0, 2); out.writeUInt32BE(n, 6); }
  MASK.copy(out, head);
  const p = head + 4;
  for (let i = 0; i < n; i++) out[p + i] = payload[i] ^ MASK[i & 3];
  return out;
}

const textFrame = (s) => frame(1, s);
const binaryFrame = (b) => frame(2, b);
const CLOSE_FRAME = frame(8, Buffer.from([0x03, 0xe8])); // 1000
const PONG_EMPTY = frame(10, Buffer.alloc(0));

/**
 * Connects to ws://host:port/path and calls handlers: onOpen(), onMessage(isBinary, payload Buffer),
 * onClose(err). Returns the client: send(buf) writes a prepared frame, close() starts a close, destroy().
 */
class WsClient {
  constructor(host, port, path, handlers, localAddress) {
    this.h = handlers;
    this.open = false;
    this.closed = false;
    this.buf = null; // unparsed bytes
    this.frags = null; // a fragmented message being joined
    this.fragBinary = false;
    const key = crypto.randomBytes(16).toString('base64');
    this.sock = net.connect({ host, port, localAddress, noDelay: true });
    this.sock.setNoDelay(true);
    this.sock.on('connect', () => {
      this.sock.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    this.sock.on('data', (d) => this.onData(d));
    this.sock.on('error', (e) => this.finish(e));
    this.sock.on('close', () => this.finish(this.open ? null : new Error('closed before the upgrade')));
  }

  finish(err) {
    if (this.closed) return;
    this.closed = true;
    this.sock.destroy();
    if (this.h.onClose) this.h.onClose(err);
  }

  send(buf) { if (!this.closed) this.sock.write(buf); }
  close() { if (!this.closed) { this.sock.write(CLOSE_FRAME); this.sock.end(); } }
  destroy() { this.finish(null); }

  onData(d) {
    let b = this.buf ? Buffer.concat([this.buf, d]) : d;
    this.buf = null;
    if (!this.open) {
      const end = b.indexOf('\r\n\r\n');
      if (end < 0) { if (b.length > 8192) return this.finish(new Error('upgrade response too long')); this.buf = b; return; }
      const status = b.toString('latin1', 0, b.indexOf('\r\n'));
      if (!/^HTTP\/1\.1 101/.test(status)) return this.finish(new Error(`upgrade refused: ${status}`));
      this.open = true;
      b = b.subarray(end + 4);
      if (this.h.onOpen) this.h.onOpen();
    }
    let off = 0;
    while (!this.closed) {
      const avail = b.length - off;
      if (avail < 2) break;
      const b0 = b[off], b1 = b[off + 1];
      let len = b1 & 0x7f, head = 2;
      if (len === 126) { if (avail < 4) break; len = b.readUInt16BE(off + 2); head = 4; }
      else if (len === 127) { if (avail < 10) break; len = b.readUInt32BE(off + 2) * 4294967296 + b.readUInt32BE(off + 6); head = 10; }
      if (b1 & 0x80) return this.finish(new Error('masked server frame'));
      if (avail < head + len) break;
      const payload = b.subarray(off + head, off + head + len);
      off += head + len;
      const op = b0 & 0x0f, fin = (b0 & 0x80) !== 0;
      if (op === 9) { this.sock.write(len === 0 ? PONG_EMPTY : frame(10, payload)); continue; }
      if (op === 10) continue;
      if (op === 8) { this.sock.end(); this.finish(null); return; }
      if (op === 0) {
        if (!this.frags) return this.finish(new Error('continuation without a start'));
        this.frags.push(Buffer.from(payload));
        if (fin) { const m = Buffer.concat(this.frags); this.frags = null; this.h.onMessage(this.fragBinary, m); }
        continue;
      }
      if (!fin) { this.frags = [Buffer.from(payload)]; this.fragBinary = op === 2; continue; }
      this.h.onMessage(op === 2, payload);
    }
    if (off < b.length) this.buf = Buffer.from(b.subarray(off)); // copied: `b` may be the socket's own chunk
  }
}

module.exports = { WsClient, textFrame, binaryFrame, frame };
