/** File modes under a data_dir (0700 directories, 0600 files). */
import { lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';

export const modeOf = (p: string): number => lstatSync(p).mode & 0o777;

/** Every path under `dir` (itself included, symlinks skipped) with group or other bits, as "path mode". */
export function looseModes(dir: string, maxDepth = 20): string[] {
  const out: string[] = [];
  const note = (p: string): void => {
    if ((modeOf(p) & 0o077) !== 0) out.push(`${path.relative(dir, p) || '.'} ${modeOf(p).toString(8)}`);
  };
  const walk = (d: string, depth: number): void => {
    if (depth > maxDepth) throw new Error(`looseModes: deeper than ${maxDepth} under ${dir}`);
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isSymbolicLink()) continue;
      note(p);
      if (e.isDirectory()) walk(p, depth + 1);
    }
  };
  note(dir);
  walk(dir, 0);
  return out;
}
