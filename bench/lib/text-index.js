// Roost indexes opened mailboxes for SEARCH BODY in the background
// (src/store/text-indexer.ts). A benchmark waits for that to finish so it
// does not run under the timed rows.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** Messages in the node's full-text index (data_dir/fts/*.sqlite). */
async function indexedCount(dataDir) {
  const Database = (await import('better-sqlite3')).default;
  const ftsDir = path.join(dataDir, 'fts');
  let n = 0;
  for (const f of existsSync(ftsDir) ? readdirSync(ftsDir).filter((x) => x.endsWith('.sqlite')) : []) {
    const db = new Database(path.join(ftsDir, f), { readonly: true });
    try {
      n += db.prepare('SELECT count(*) AS c FROM docs').get().c;
    } catch {
      // schema not made yet
    } finally {
      db.close();
    }
  }
  return n;
}

/** Wait (polling, at most `timeoutMs`) until `want` messages are indexed; resolves with the ms waited. */
export async function waitForTextIndex(dataDir, want, timeoutMs = 30 * 60_000) {
  const a = performance.now();
  while ((await indexedCount(dataDir)) < want && performance.now() - a < timeoutMs) await new Promise((r) => setTimeout(r, 500));
  return Math.round(performance.now() - a);
}
