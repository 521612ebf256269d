/**
 * The module graph is one-way: scripts/import-cycles.mjs (also run by
 * `npm run lint`) finds no import circle in src, type-only imports counted,
 * and it does report one when there is.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const script = path.join(repo, 'scripts', 'import-cycles.mjs');

function run(cwd: string, folder: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, folder], { cwd, timeout: 60_000 }, (err, stdout) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout });
    });
  });
}

describe('import graph', () => {
  it('src has no import circle', { timeout: 90_000 }, async () => {
    const r = await run(repo, 'src');
    expect(r.out).toContain('no import circles in src');
    expect(r.code).toBe(0);
  });

  it('a circle through a type-only import is reported, and the exit status says so', { timeout: 90_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roost-cycles-'));
    try {
      fs.mkdirSync(path.join(dir, 'src'));
      fs.writeFileSync(path.join(dir, 'src', 'a.ts'), "import { b } from './b.js';\nexport const a = (): number => b();\n");
      fs.writeFileSync(path.join(dir, 'src', 'b.ts'), "import type { C } from './c.js';\nexport const b = (): number => 1;\nexport type B = C;\n");
      fs.writeFileSync(path.join(dir, 'src', 'c.ts'), "import type { a } from './a.js';\nexport type C = typeof a;\n");
      fs.writeFileSync(path.join(dir, 'src', 'd.ts'), "import { a } from './a.js';\nexport const d = a;\n");
      const r = await run(dir, 'src');
      expect(r.code).toBe(1);
      expect(r.out).toContain('circle of 3 modules:');
      expect(r.out).toMatch(/src\/a\.ts[\s\S]*src\/b\.ts[\s\S]*src\/c\.ts/);
      expect(r.out).not.toContain('src/d.ts');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
