#!/usr/bin/env node
// Import circles under a source folder, type-only imports included (a type
// import still ties two modules' meaning together). No dependency: relative
// `import … from './x.js'` / `export … from` specifiers are read with a
// regular expression and resolved to the .ts file beside them; the strongly
// connected components (Tarjan) of more than one module are printed.
// Usage: node scripts/import-cycles.mjs [folder …]   (default: src/imap)
// Exit status 1 when a circle exists.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const roots = process.argv.slice(2);
if (roots.length === 0) roots.push('src/imap');

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(resolve(p));
  }
  return out;
}

const files = roots.flatMap((r) => walk(r, []));
const inScope = new Set(files);
const SPEC = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]/g;
const edges = new Map();
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const to = new Set();
  for (const m of text.matchAll(SPEC)) {
    const target = resolve(dirname(f), m[1].replace(/\.js$/, '.ts'));
    if (inScope.has(target)) to.add(target);
  }
  edges.set(f, [...to]);
}

// Tarjan's strongly connected components, iterative so deep graphs cannot overflow the stack.
let index = 0;
const idx = new Map();
const low = new Map();
const onStack = new Set();
const stack = [];
const sccs = [];
for (const start of files) {
  if (idx.has(start)) continue;
  const work = [[start, 0]];
  idx.set(start, index);
  low.set(start, index++);
  stack.push(start);
  onStack.add(start);
  while (work.length > 0) {
    const frame = work[work.length - 1];
    const [v, i] = frame;
    const next = edges.get(v);
    if (i < next.length) {
      frame[1]++;
      const w = next[i];
      if (!idx.has(w)) {
        idx.set(w, index);
        low.set(w, index++);
        stack.push(w);
        onStack.add(w);
        work.push([w, 0]);
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
      continue;
    }
    work.pop();
    if (work.length > 0) {
      const u = work[work.length - 1][0];
      low.set(u, Math.min(low.get(u), low.get(v)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) sccs.push(comp);
    }
  }
}

for (const comp of sccs) {
  console.log(`circle of ${comp.length} modules:`);
  for (const f of comp.sort()) console.log(`  ${relative(process.cwd(), f)}`);
}
console.log(sccs.length === 0 ? `no import circles in ${roots.join(' ')}` : `${sccs.length} circle(s)`);
process.exitCode = sccs.length === 0 ? 0 : 1;
