// Reading a V8 heap snapshot (node --heapsnapshot-signal, v8.writeHeapSnapshot) for the memory benches.
import { readFileSync } from 'node:fs';

/** Largest self sizes in a heap snapshot, by node name (constructor or string kind). */
export function summarise(file, top = 15) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const f = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((k) => f.indexOf(k));
  const by = new Map();
  for (let i = 0; i < snap.nodes.length; i += f.length) {
    const type = types[snap.nodes[i + iType]];
    const name = type === 'object' || type === 'closure' ? snap.strings[snap.nodes[i + iName]] : `(${type})`;
    const e = by.get(name) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += snap.nodes[i + iSize];
    by.set(name, e);
  }
  return [...by.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top).map(([name, e]) => ({ name, count: e.count, MB: Math.round((e.bytes / 1048576) * 10) / 10 }));
}
