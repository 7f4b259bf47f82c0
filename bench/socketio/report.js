'use strict';
// Reads the JSON loadgen.js wrote for each case, server and repeat (bench/socketio/compare.sh) and
// prints one Markdown table of medians, each figure with its ratio to Node's socket.io in the same run.
const fs = require('fs');
const path = require('path');

const [dir, profile = 'quick', repeats = '3'] = process.argv.slice(2);
const cases = fs.readFileSync(path.join(dir, 'cases.txt'), 'utf8').trim().split('\n').map((l) => l.split('|'));
const serverNames = {
  node: 'Node socket.io',
  duplex: 'Duplex',
  'duplex-aspnet': 'Duplex, ASP.NET Core defaults',
};

const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const fmt = (x, digits = 2) => (x === undefined ? '–' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const int = (x) => (x === undefined ? '–' : Math.round(x).toLocaleString('en-US'));

const rows = [];
for (const [name] of cases) {
  const byServer = {};
  for (const server of Object.keys(serverNames)) {
    const runs = [];
    for (const f of fs.readdirSync(dir)) {
      if (!f.startsWith(`${name}.${server}.`) || !f.endsWith('.json')) continue;
      try { runs.push(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))); } catch { /* an empty or cut file: the run failed */ }
    }
    if (runs.length === 0) continue;
    const idle = runs[0].mode === 'idle';
    byServer[server] = {
      idle,
      runs: runs.length,
      figure: median(runs.map((r) => (idle ? r.server_KiB_per_connection : r.server?.cpu_us_per_op))),
      rate: median(runs.map((r) => (idle ? r.open_per_s : r.ops_per_s))),
      p50: median(runs.map((r) => r.latency_us?.p50)),
      p99: median(runs.map((r) => r.latency_us?.p99)),
      rss: median(runs.map((r) => r.server?.rss_kib / 1024)),
      alloc: median(runs.map((r) => r.server?.alloc_bytes_per_op)),
      errors: runs.reduce((a, r) => a + (r.errors || 0), 0),
      unit: runs[0].unit,
    };
  }
  const base = byServer.node?.figure;
  for (const [server, r] of Object.entries(byServer)) {
    rows.push(`| ${name} | ${serverNames[server]} | ${r.idle ? 'KiB / conn' : `CPU µs / ${r.unit}`} | ${fmt(r.figure)} | ${base && r.figure !== undefined ? fmt(r.figure / base) + '×' : '–'} | ${int(r.rate)} | ${r.idle ? '–' : fmt(r.p50, 0)} | ${r.idle ? '–' : fmt(r.p99, 0)} | ${fmt(r.rss, 0)} | ${r.alloc === undefined ? '–' : int(r.alloc)} | ${r.errors}${r.runs < Number(repeats) ? ` (${r.runs}/${repeats} runs)` : ''} |`);
  }
}

console.log(`Profile: ${profile}; medians of ${repeats} runs per case; figure = server CPU (utime+stime) per message, delivery or connect over the measured window, or for idle the server's RSS growth per held connection. Lower is better; × = ratio to Node socket.io in this run. Rate = messages, deliveries or connects per second (idle: connections opened per second). p50/p99 in µs (round trip, fan-out, or full handshake). RSS = server resident memory at the end of the window. B/op = bytes the .NET server allocated per message (GC.GetTotalAllocatedBytes over the window).`);
console.log('');
console.log('| case | server | figure | value | × Node | rate /s | p50 µs | p99 µs | RSS MiB | B/op | errors |');
console.log('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
for (const r of rows) console.log(r);
console.log('');
console.log('Cases:');
for (const [name, opts] of cases) console.log(`- \`${name}\`: \`node bench/socketio/loadgen.js ${opts}\``);
