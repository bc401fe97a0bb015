/**
 * Summarises a V8 heap snapshot by constructor: count and self size, largest first, and
 * per stream when the number of open streams is given.
 *
 *   npx tsx src/bench/heap-summary.ts bench-results/profiles/server-…heapsnapshot [streams]
 */
import fs from "node:fs";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

const [file, streamsArg] = process.argv.slice(2);
if (!file) {
  console.error("usage: npx tsx src/bench/heap-summary.ts FILE [STREAMS]");
  process.exit(2);
}
const snap = JSON.parse(fs.readFileSync(file, "utf8")) as Snapshot;
const fields = snap.snapshot.meta.node_fields;
const types = snap.snapshot.meta.node_types[0];
const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((f) => fields.indexOf(f)) as [number, number, number];
const groups = new Map<string, { count: number; bytes: number }>();
let total = 0;
for (let i = 0; i < snap.nodes.length; i += fields.length) {
  const type = types[snap.nodes[i + typeAt]!]!;
  const name = type === "object" || type === "closure" ? snap.strings[snap.nodes[i + nameAt]!]! : `(${type})`;
  const size = snap.nodes[i + sizeAt]!;
  total += size;
  const g = groups.get(name) ?? { count: 0, bytes: 0 };
  g.count++;
  g.bytes += size;
  groups.set(name, g);
}
const streams = Number(streamsArg) || 0;
console.log(`total self size ${(total / 2 ** 20).toFixed(1)} MiB${streams ? `, ${Math.round(total / streams)} B per stream` : ""}`);
for (const [name, g] of [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 40)) {
  const per = streams ? `  ${(g.count / streams).toFixed(1).padStart(6)}/stream ${String(Math.round(g.bytes / streams)).padStart(7)} B/stream` : "";
  console.log(`${(g.bytes / 2 ** 20).toFixed(2).padStart(9)} MiB ${String(g.count).padStart(9)}${per}  ${name.slice(0, 80)}`);
}
