'use strict';
// What bench/compare-report.js and bench/socketio/report.js share: medians, number formats, and the
// median figures of one case on one server from the JSON files its repeats wrote.
const fs = require('fs');
const path = require('path');

const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const fmt = (x, digits = 2) => (x === undefined ? '–' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const int = (x) => (x === undefined ? '–' : Math.round(x).toLocaleString('en-US'));

// The repeats of case `name` on `server` (files `<name>.<server>.<n>.json` in `dir`), or undefined when
// none ran; `extra(runs)` adds figures of the caller's own.
function summarize(dir, name, server, extra = () => ({})) {
  const runs = [];
  for (const f of fs.readdirSync(dir)) {
    if (!f.startsWith(`${name}.${server}.`) || !f.endsWith('.json')) continue;
    try { runs.push(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))); } catch { /* an empty or cut file: the run failed */ }
  }
  if (runs.length === 0) return undefined;
  const idle = runs[0].mode === 'idle';
  return {
    idle,
    runs: runs.length,
    figure: median(runs.map((r) => (idle ? r.server_KiB_per_connection : r.server?.cpu_us_per_op))),
    rate: median(runs.map((r) => (idle ? r.open_per_s : r.ops_per_s))),
    p50: median(runs.map((r) => r.latency_us?.p50)),
    p99: median(runs.map((r) => r.latency_us?.p99)),
    rss: median(runs.map((r) => r.server?.rss_kib / 1024)),
    unit: runs[0].unit,
    ...extra(runs),
  };
}

module.exports = { median, fmt, int, summarize };
