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

const { median, fmt, int, summarize } = require('../report-common.js');

const rows = [];
for (const [name] of cases) {
  const byServer = {};
  for (const server of Object.keys(serverNames)) {
    const summary = summarize(dir, name, server, (runs) => ({
      alloc: median(runs.map((r) => r.server?.alloc_bytes_per_op)),
      errors: runs.reduce((a, r) => a + (r.errors || 0), 0),
    }));
    if (summary) byServer[server] = summary;
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
