/**
 * Whether a client is waiting on a fill right now (issue 16 §4): the first
 * FETCH of ENVELOPE/BODYSTRUCTURE after a lazy first open reads and parses
 * the files it shows (./facts.ts ensure). Background work that reads the
 * same files or competes for the same CPU — the facts fill, the journaling
 * of a lazy open's rows, the full-text indexer (./fts/fulltext.ts) — waits
 * until no such fill runs, then finds the structures stored and reads no
 * file twice. One counter per process: the CPU is shared by every account.
 */
let running = 0;
let waiters: (() => void)[] = [];

/** Run `fn` as a fill a client waits for. */
export async function onDemand<T>(fn: () => Promise<T>): Promise<T> {
  running++;
  try {
    return await fn();
  } finally {
    if (--running === 0) {
      const w = waiters;
      waiters = [];
      for (const r of w) r();
    }
  }
}

/** Resolves once no fill a client waits for is running (at once when none is). */
export function demandIdle(): Promise<void> {
  return running === 0 ? Promise.resolve() : new Promise((r) => waiters.push(r));
}
