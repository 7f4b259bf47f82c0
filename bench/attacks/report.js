// The Markdown table of bench/attacks/run.sh's JSON lines (bench/README.md, "Attacks").
"use strict";
const fs = require("fs");
const rows = fs.readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
console.log("| attack | path | outcome | s | RSS before (MiB) | peak RSS (MiB) | normal echoes | p50 / p99 / max (ms) | errors |");
console.log("|---|---|---|---:|---:|---:|---:|---|---:|");
for (const r of rows) {
  const lat = r.p50 === undefined ? "-" : `${r.p50} / ${r.p99} / ${r.max}`;
  console.log(`| ${r.attack} | ${r.path} | ${r.outcome} | ${r.seconds ?? "-"} | ${r.baselineMiB ?? "-"} | ${r.peakMiB ?? "-"} | ${r.echoes ?? "-"} | ${lat} | ${r.errors ?? "-"} |`);
}
