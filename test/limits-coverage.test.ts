/**
 * src/limits.ts promises a test at N and N+1 for every limit a client can
 * reach. This checks the part a script can: every key outside `tuning` and
 * INTERNAL_LIMITS is named ("group.key") by at least one test file, except
 * the ones listed below as still untested. The list may only shrink: a key
 * on it that a test names fails here, so whoever adds the test removes it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { INTERNAL_LIMITS, LIMITS } from '../src/limits.js';

const TEST_DIR = path.dirname(fileURLToPath(import.meta.url));

/** Limits a client, peer or file can reach that have no N/N+1 test yet, and why. */
const UNTESTED = new Set([
  // Reached only when QUIT's reply cannot go out: a batch flush waits for 'drain' first, so the session
  // gets to QUIT with a full kernel buffer (several MB on loopback) only by chance, not on demand.
  'pop3.closeLingerMs',
  // A single TLS read is at most 16 KiB and each complete frame is dispatched as it comes, so more than
  // 16 KiB unconsumed before the proof depends on how fast the listener dequeues: no exact N / N+1 yet.
  'replication.maxHandshakeBytes',
  // A move source that stalls between steps: 10 minutes on a spawned destination, which a test cannot lower.
  'move.stepTimeoutMs',
]);

/** Every test source (this file aside, which names every key). */
function testSources(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) testSources(p, out);
    else if (/\.(ts|js|mjs|py)$/.test(e.name) && p !== fileURLToPath(import.meta.url)) out.push(fs.readFileSync(p, 'utf8'));
  }
  return out;
}

const keys = Object.entries(LIMITS).flatMap(([group, values]) => Object.keys(values).map((k) => `${group}.${k}`));
const named = (text: string, key: string): boolean => new RegExp(`\\b${key.replace('.', '\\.')}\\b`).test(text);

describe('limits coverage (src/limits.ts)', () => {
  const sources = testSources(TEST_DIR).join('\n');
  const internal = new Set(INTERNAL_LIMITS);

  it('names only keys that exist in its lists', () => {
    const all = new Set(keys);
    expect([...internal].filter((k) => !all.has(k))).toEqual([]);
    expect([...UNTESTED].filter((k) => !all.has(k))).toEqual([]);
    expect([...UNTESTED].filter((k) => internal.has(k) || k.startsWith('tuning.'))).toEqual([]);
  });

  it('every limit a client can reach is named by a test, or listed as untested', () => {
    const reachable = keys.filter((k) => !k.startsWith('tuning.') && !internal.has(k));
    expect(reachable.filter((k) => !UNTESTED.has(k) && !named(sources, k))).toEqual([]);
  });

  it('the untested list holds no key a test names (remove it from the list once tested)', () => {
    expect([...UNTESTED].filter((k) => named(sources, k))).toEqual([]);
  });
});
