'use strict';
// A Socket.IO load generator that speaks Engine.IO v4 / Socket.IO v5 itself over wsclient.js (raw
// sockets, frames built once), so its own cost stays small. One case per run, bounded by --duration;
// prints one JSON object. See bench/README.md ("Socket.IO").
//
//   node loadgen.js echo      --port P [--connections 100] [--depth 16] [--size 32] [--no-ack] [--binary]
//   node loadgen.js broadcast --port P --receivers 100 (--rate 1000 | --depth 8)
//   node loadgen.js connect   --port P [--loops 4]
//   node loadgen.js idle      --port P --connections 10000
//   common: --host 127.0.0.1 --duration 3 --warmup 1 [--pid <server pid>] [--alloc-url http://…/debug/gc]
const fs = require('fs');
const http = require('http');
const { performance } = require('perf_hooks');
const { WsClient, textFrame, binaryFrame } = require('./wsclient');

// ---- arguments -------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const mode = argv[0];
const opt = {};
for (let i = 1; i < argv.length; i++) {
  const a = argv[i];
  if (!a.startsWith('--')) usage(`unexpected ${a}`);
  const k = a.slice(2);
  if (['no-ack', 'binary'].includes(k)) opt[k] = true;
  else { if (i + 1 >= argv.length) usage(`--${k} needs a value`); opt[k] = argv[++i]; }
}
function usage(msg) {
  process.stderr.write(`loadgen: ${msg}\n` + fs.readFileSync(__filename, 'utf8').split('\n').slice(4, 9).map((l) => l.slice(3)).join('\n') + '\n');
  process.exit(1);
}
if (!['echo', 'broadcast', 'connect', 'idle'].includes(mode)) usage('mode is echo, broadcast, connect or idle');
const num = (k, d) => {
  if (opt[k] === undefined) return d;
  const m = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(opt[k]);
  if (!m) usage(`--${k} is a number`);
  return Number(m[1]) * ({ '': 1, k: 1024, m: 1024 * 1024 }[m[2].toLowerCase()]);
};
const host = opt.host || '127.0.0.1';
if (!['127.0.0.1', 'localhost', '::1'].includes(host)) usage('loopback only');
const port = num('port', 0);
if (!port) usage('--port is required');
const duration = num('duration', 3);
const warmup = num('warmup', 1);
const pid = opt.pid ? Number(opt.pid) : 0;
const PATH = '/socket.io/?EIO=4&transport=websocket';

// ---- server figures from /proc ---------------------------------------------------------------
const TICK_US = 1e6 / 100; // CLK_TCK is 100 on Linux
function serverCpuUs() {
  if (!pid) return undefined;
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return (Number(f[11]) + Number(f[12])) * TICK_US; // fields 14, 15: utime, stime
  } catch { return undefined; }
}
function serverRssKiB() {
  if (!pid) return undefined;
  try { return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]); } catch { return undefined; }
}
// Optional: the bench server's allocation counter (DuplexSocketIOServer --debug), for bytes per message.
function allocated() {
  if (!opt['alloc-url']) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const req = http.get(opt['alloc-url'], (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => { try { resolve(JSON.parse(body)); } catch { resolve(undefined); } });
    });
    req.on('error', () => resolve(undefined));
    req.setTimeout(5000, () => { req.destroy(); resolve(undefined); });
  });
}

// ---- latency histogram: ~3 % buckets over µs ---------------------------------------------------
const LOG_STEP = Math.log(1.03);
const hist = new Float64Array(1200);
let histCount = 0;
function record(us) {
  const b = us < 1 ? 0 : Math.min(hist.length - 1, Math.floor(Math.log(us) / LOG_STEP));
  hist[b]++; histCount++;
}
function percentile(p) {
  if (histCount === 0) return undefined;
  const target = histCount * p;
  let acc = 0;
  for (let i = 0; i < hist.length; i++) { acc += hist[i]; if (acc >= target) return Math.round(Math.exp((i + 1) * LOG_STEP)); }
  return undefined;
}

// ---- Socket.IO over one WebSocket --------------------------------------------------------------
const PONG = textFrame('3');
const CONNECT = textFrame('40');
let errors = 0;
const errorSamples = [];
function error(msg) { errors++; if (errorSamples.length < 5) errorSamples.push(msg); }

/**
 * A Socket.IO client socket on "/": handlers.onConnect(), onPacket(payload Buffer) for every Socket.IO
 * text packet after CONNECT (payload from the Socket.IO type on: '3…' is an ack, '2…' an event, '6…'
 * a binary ack), onBinary(buf), onClose(err).
 */
function sioConnect(handlers, localAddress) {
  let connected = false;
  const ws = new WsClient(host, port, PATH, {
    onMessage(isBinary, p) {
      if (isBinary) return handlers.onBinary ? handlers.onBinary(p) : error('unexpected binary frame');
      const t = p[0];
      if (t === 0x34 /* 4 message */) {
        if (connected) return handlers.onPacket(p.subarray(1));
        if (p[1] === 0x30 /* 0 CONNECT */) { connected = true; return handlers.onConnect(); }
        return error(`before CONNECT: ${p.toString('utf8', 0, 80)}`);
      }
      if (t === 0x32 /* 2 ping */) return ws.send(PONG);
      if (t === 0x30 /* 0 open */) return ws.send(CONNECT);
      if (t === 0x31 /* 1 close */) return ws.close();
      if (t === 0x36 /* 6 noop */) return undefined;
      return error(`Engine.IO packet ${p.toString('utf8', 0, 40)}`);
    },
    onClose(err) { if (handlers.onClose) handlers.onClose(err, connected); },
  }, localAddress);
  return ws;
}

// Reads the ack id after `skip` bytes up to the first non-digit; returns [id, index after it].
function readId(p, i) {
  let id = 0;
  while (i < p.length && p[i] >= 0x30 && p[i] <= 0x39) { id = id * 10 + (p[i] - 0x30); i++; }
  return [id, i];
}

function payloadString(size) {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < size; i++) s += chars[i % chars.length];
  return s;
}

// ---- the measured window -----------------------------------------------------------------------
let ops = 0; // completed operations (acks, echoes, deliveries, handshakes) while measuring
let measuring = false;
let running = true;
let win = {};
async function measure(extra) {
  await sleep(warmup * 1000);
  const a0 = await allocated();
  win = { t0: performance.now(), cpu0: serverCpuUs(), ops0: ops };
  measuring = true;
  await sleep(duration * 1000);
  measuring = false;
  const t1 = performance.now(), cpu1 = serverCpuUs(), n = ops - win.ops0;
  const a1 = await allocated();
  running = false;
  const secs = (t1 - win.t0) / 1000;
  const out = {
    mode, unit: extra.unit, ops: n, seconds: +secs.toFixed(3), ops_per_s: Math.round(n / secs),
    latency_us: { p50: percentile(0.5), p99: percentile(0.99) },
    server: pid ? {
      cpu_us: cpu1 - win.cpu0,
      cpu_us_per_op: n > 0 && cpu1 !== undefined ? +((cpu1 - win.cpu0) / n).toFixed(3) : undefined,
      rss_kib: serverRssKiB(),
    } : undefined,
    errors, error_samples: errorSamples.length ? errorSamples : undefined, ...extra.fields,
  };
  if (a0 && a1 && n > 0) out.server.alloc_bytes_per_op = +((a1.allocated - a0.allocated) / n).toFixed(1);
  return out;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function done(out, code = 0) {
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(out.ops === 0 && code === 0 ? 2 : errors > 0 && code === 0 ? 3 : code);
}

// Opens `n` Socket.IO sockets, at most `parallel` handshakes at a time; resolves when all are connected.
function openMany(n, make, parallel = 100, timeoutMs = 60000) {
  return new Promise((resolve, reject) => {
    const list = [];
    let started = 0, connected = 0;
    const timer = setTimeout(() => reject(new Error(`only ${connected}/${n} connected within ${timeoutMs / 1000} s`)), timeoutMs);
    const next = () => {
      if (started >= n) return;
      const i = started++;
      list[i] = make(i, () => { connected++; if (connected === n) { clearTimeout(timer); resolve(list); } else next(); });
    };
    for (let k = 0; k < Math.min(parallel, n); k++) next();
  });
}

// ---- echo (with ack, without, binary) ---------------------------------------------------------
async function runEcho() {
  const conns = num('connections', 100), depth = num('depth', 1), size = num('size', 32);
  const ack = !opt['no-ack'], binary = !!opt.binary;
  if (binary && !ack) usage('--binary needs acks');
  const str = payloadString(size);
  const bin = Buffer.alloc(size, 0).map((_, i) => (i * 31 + 7) & 0xff);
  // Frames per in-flight slot k (ack id k): built and masked once.
  const frames = [];
  for (let k = 0; k < depth; k++) {
    if (binary) frames.push(Buffer.concat([textFrame(`451-${k}["echo",{"_placeholder":true,"num":0}]`), binaryFrame(bin)]));
    else if (ack) frames.push(textFrame(`42${k}["echo","${str}"]`));
    else frames.push(textFrame(`42["echo","${str}"]`));
  }
  const ackRest = Buffer.from(`["${str}"]`); // after "3<id>"
  const binAckRest = Buffer.from('[{"_placeholder":true,"num":0}]'); // after "6" "1-" "<id>"
  const eventEcho = Buffer.from(`2["echo","${str}"]`);

  const make = (i, onConnected) => {
    const sent = new Float64Array(depth);
    const fifo = []; // --no-ack: send times in order
    let pendingBin = -1;
    const complete = (k) => {
      const now = performance.now();
      if (measuring) { ops++; record((now - sent[k]) * 1000); }
      if (running) { sent[k] = now; ws.send(frames[k]); }
    };
    const ws = sioConnect({
      onConnect() {
        onConnected();
      },
      onPacket(p) {
        if (binary) {
          if (p[0] !== 0x36 || p[1] !== 0x31 || p[2] !== 0x2d) return error(`expected a binary ack: ${p.toString('utf8', 0, 60)}`);
          const [id, j] = readId(p, 3);
          if (id >= depth || !p.subarray(j).equals(binAckRest)) return error(`binary ack: ${p.toString('utf8', 0, 60)}`);
          pendingBin = id;
          return undefined;
        }
        if (ack) {
          if (p[0] !== 0x33) return error(`expected an ack: ${p.toString('utf8', 0, 60)}`);
          const [id, j] = readId(p, 1);
          if (id >= depth || !p.subarray(j).equals(ackRest)) return error(`ack: ${p.toString('utf8', 0, 60)}`);
          return complete(id);
        }
        if (!p.equals(eventEcho)) return error(`echo event: ${p.toString('utf8', 0, 60)}`);
        const t = fifo.shift(), now = performance.now();
        if (measuring) { ops++; record((now - t) * 1000); }
        if (running) { fifo.push(now); ws.send(frames[0]); }
        return undefined;
      },
      onBinary(b) {
        if (pendingBin < 0 || b.length !== size || !b.equals(bin)) return error(`attachment of ${b.length} B`);
        const k = pendingBin;
        pendingBin = -1;
        return complete(k);
      },
      onClose(err) { if (running) error(`connection ${i} closed: ${err ? err.message : 'by the server'}`); },
    });
    ws.start = () => {
      const now = performance.now();
      for (let k = 0; k < depth; k++) { sent[k] = now; if (!ack) fifo.push(now); }
      ws.send(Buffer.concat(frames));
    };
    return ws;
  };
  const list = await openMany(conns, make);
  for (const ws of list) ws.start();
  const out = await measure({
    unit: 'message',
    fields: { connections: conns, depth, size, ack, binary },
  });
  for (const ws of list) ws.destroy();
  done(out);
}

// ---- broadcast to a room ----------------------------------------------------------------------
async function runBroadcast() {
  const receivers = num('receivers', 100), rate = num('rate', 0), depth = num('depth', 8);
  const SAMPLED = 16; // receivers whose deliveries are timed (the rest only count)
  const prefix = Buffer.from('2["bcast","');
  const origin = performance.now();
  let delivered = 0, lastDelivery = performance.now();
  const JOIN = textFrame('420["join","r"]');
  let joined = 0;
  let allJoined;
  const joinedP = new Promise((r) => { allJoined = r; });
  const makeReceiver = (i, onConnected) => {
    const ws = sioConnect({
      onConnect() { ws.send(JOIN); },
      onPacket(p) {
        if (p[0] === 0x33) { // the join's ack
          onConnected();
          if (++joined === receivers) allJoined();
          return undefined;
        }
        if (p.length < prefix.length + 13 || p.compare(prefix, 0, prefix.length, 0, prefix.length) !== 0) return error(`delivery: ${p.toString('utf8', 0, 60)}`);
        delivered++;
        lastDelivery = performance.now();
        if (measuring) {
          ops++;
          if (i < SAMPLED) record((lastDelivery - origin) * 1000 - parseInt(p.toString('latin1', prefix.length, prefix.length + 13), 16));
        }
        if (!rate) pump();
        return undefined;
      },
      onClose(err) { if (running) error(`receiver ${i} closed: ${err ? err.message : 'by the server'}`); },
    });
    return ws;
  };
  const list = await openMany(receivers, makeReceiver);
  await joinedP;
  let sender;
  await new Promise((resolve) => {
    sender = sioConnect({
      onConnect: resolve,
      onPacket(p) { error(`sender got ${p.toString('utf8', 0, 40)}`); },
      onClose(err) { if (running) error(`sender closed: ${err ? err.message : 'by the server'}`); },
    });
  });
  let sent = 0;
  const pad = 'x'.repeat(32 - 13);
  const message = () => {
    const t = Math.round((performance.now() - origin) * 1000).toString(16).padStart(13, '0');
    return textFrame(`42["bcast","${t}${pad}"]`);
  };
  let scheduled = false;
  function pump() {
    if (scheduled || !running) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      const batch = [];
      while (running && (sent - depth) * receivers < delivered) { batch.push(message()); sent++; }
      if (batch.length) sender.send(batch.length === 1 ? batch[0] : Buffer.concat(batch));
    });
  }
  let timer;
  if (rate) {
    const start = performance.now();
    timer = setInterval(() => {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      const batch = [];
      while (sent < due) { batch.push(message()); sent++; }
      if (batch.length) sender.send(batch.length === 1 ? batch[0] : Buffer.concat(batch));
    }, 1);
  } else {
    pump();
    timer = setInterval(() => {
      if (performance.now() - lastDelivery > 10000) { error('no delivery for 10 s'); running = false; }
    }, 500);
  }
  const out = await measure({ unit: 'delivery', fields: { receivers, rate: rate || undefined, depth: rate ? undefined : depth, sent } });
  clearInterval(timer);
  out.sent = sent;
  sender.destroy();
  for (const ws of list) ws.destroy();
  done(out);
}

// ---- connects/s: Engine.IO open + Socket.IO CONNECT, then close ---------------------------------
async function runConnect() {
  const loops = num('loops', 4);
  const loop = (i) => {
    if (!running) return;
    const t = performance.now();
    let finished = false;
    const ws = sioConnect({
      onConnect() {
        if (measuring) { ops++; record((performance.now() - t) * 1000); }
        finished = true;
        ws.close();
        loop(i);
      },
      onPacket() {},
      onClose(err) {
        if (finished) return;
        if (running) error(`handshake: ${err ? err.message : 'closed by the server'}`);
        finished = true;
        setTimeout(() => loop(i), 10);
      },
    });
  };
  for (let i = 0; i < loops; i++) loop(i);
  const out = await measure({ unit: 'connect', fields: { loops } });
  done(out);
}

// ---- idle memory per connection ---------------------------------------------------------------
async function runIdle() {
  const n = num('connections', 10000);
  const half = Math.floor(n / 2);
  const medianRss = async (samples, everyMs) => {
    const v = [];
    for (let i = 0; i < samples; i++) { v.push(serverRssKiB()); await sleep(everyMs); }
    v.sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)];
  };
  const make = (i, onConnected) => sioConnect({
    onConnect: onConnected,
    onPacket(p) { error(`idle socket got ${p.toString('utf8', 0, 40)}`); },
    onClose(err) { if (running) error(`idle connection ${i} closed: ${err ? err.message : 'by the server'}`); },
  });
  const t0 = performance.now();
  const first = await openMany(half, make);
  const openSecs1 = (performance.now() - t0) / 1000;
  const rss1 = await medianRss(5, 200);
  const t1 = performance.now();
  const second = await openMany(n - half, make);
  const openSecs2 = (performance.now() - t1) / 1000;
  const rss2 = await medianRss(Math.max(5, Math.round(duration * 5)), 200);
  running = false;
  const out = {
    mode, unit: 'connection', ops: n, connections: n,
    open_per_s: Math.round(n / (openSecs1 + openSecs2)),
    server_KiB_per_connection: rss1 !== undefined ? +((rss2 - rss1) / (n - half)).toFixed(2) : undefined,
    server: pid ? { rss_kib: rss2, rss_half_kib: rss1 } : undefined,
    errors, error_samples: errorSamples.length ? errorSamples : undefined,
  };
  for (const ws of [...first, ...second]) ws.destroy();
  done(out);
}

// A hard bound over everything (connecting, warm-up, the window, draining).
setTimeout(() => { error('gave up: the run took too long'); done({ mode, ops: 0, errors }, 3); }, (warmup + duration + 120) * 1000).unref();

({ echo: runEcho, broadcast: runBroadcast, connect: runConnect, idle: runIdle })[mode]().catch((e) => {
  error(e.message);
  done({ mode, ops: 0, errors, error_samples: errorSamples }, 3);
});
