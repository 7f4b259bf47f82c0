'use strict';
// Reads the JSON that `duplex bench --json` wrote for each case, server and repeat (bench/compare.sh),
// and prints one Markdown table of medians with each figure's ratio to ASP.NET Core in the same run.
const fs = require('fs');
const path = require('path');

const [dir, profile = 'quick', repeats = '3'] = process.argv.slice(2);
const cases = fs.readFileSync(path.join(dir, 'cases.txt'), 'utf8').trim().split('\n').map((l) => l.split('|'));
// duplex-pool and aspnet-inline (opt-in with --servers) swap the scheduling: Duplex on ASP.NET Core's
// default thread-pool scheduling, ASP.NET Core on the event-loop scheduling `duplex serve` uses.
// duplex-kestrel is `duplex serve` on Kestrel's socket transport instead of Duplex's.
const serverNames = {
  duplex: 'Duplex',
  'duplex-full': 'Duplex, full path',
  'duplex-kestrel': 'Duplex, Kestrel transport',
  'duplex-pool': 'Duplex, --io pool',
  aspnet: 'ASP.NET Core',
  'aspnet-inline': 'ASP.NET Core, inline I/O',
  'aspnet-wks': 'ASP.NET Core, workstation GC',
  floor: 'floor (raw sockets)',
  node: 'Node ws',
};

const { median, fmt, int, summarize } = require('./report-common.js');

const rows = [];
for (const [name] of cases) {
  const byServer = {};
  for (const server of Object.keys(serverNames)) {
    const summary = summarize(dir, name, server, (runs) => ({
      errors: runs.reduce((a, r) => a + (r.errors || 0) + (r.drained === false ? 1 : 0), 0),
      lost: runs.reduce((a, r) => a + (r.lost || 0), 0),
    }));
    if (summary) byServer[server] = summary;
  }
  const base = byServer.aspnet?.figure;
  const floor = byServer.floor?.figure;
  for (const [server, r] of Object.entries(byServer)) {
    rows.push(`| ${name} | ${serverNames[server]} | ${r.idle ? 'KiB / conn' : `CPU µs / ${r.unit}`} | ${fmt(r.figure)} | ${base && r.figure !== undefined ? fmt(r.figure / base) + '×' : '–'} | ${floor && r.figure !== undefined ? fmt(r.figure / floor) + '×' : '–'} | ${int(r.rate)} | ${fmt(r.p50, 0)} | ${fmt(r.p99, 0)} | ${fmt(r.rss, 0)} | ${r.errors}${r.lost ? ` (lost ${r.lost})` : ''}${r.runs < Number(repeats) ? ` (${r.runs}/${repeats} runs)` : ''} |`);
  }
}

console.log(`Profile: ${profile}; medians of ${repeats} runs per case; figure = server CPU (utime+stime) per message, delivery or handshake over the measured window, or for idle the server's RSS growth per held connection. Lower is better; × = ratio to ASP.NET Core in this run, ÷ floor = ratio to the floor server (raw sockets, minimal framing: what this machine's sockets cost) in this run. Rate = messages, deliveries or handshakes per second (idle: connections opened per second). p50/p99 in µs (round trip, fan-out, or connect+upgrade). RSS = server resident memory at the end of the window.`);
console.log('');
console.log('| case | server | figure | value | × ASP.NET Core | ÷ floor | rate /s | p50 µs | p99 µs | RSS MiB | errors |');
console.log('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
for (const r of rows) console.log(r);
console.log('');
console.log('Cases:');
for (const [name, opts] of cases) console.log(`- \`${name}\`: \`duplex bench ${opts}\``);
