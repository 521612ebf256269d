/**
 * Giving back the V8 heap a big job left behind. An index rebuild, the
 * facts fill and full-text catch-up after a first open, a SORT column build
 * of a large mailbox allocate hundreds of MB that are garbage when they end
 * (the rows, names and records of every message). V8 collects when it
 * allocates, so a node that goes quiet after such a job keeps that garbage
 * (and the pages under it) resident for as long as it stays quiet: after a
 * 30,000-message first open, heap used stayed at 112 MB of which about 30 MB
 * was live, 4 minutes later (bench/reindex-memory.js). No allocation, no
 * collection: an operator saw the RSS of a rebuild never returned.
 *
 * So the node looks at the heap every LIMITS.tuning.heapCheckMs and runs one
 * full collection when it holds more than LIMITS.tuning.heapGarbageBytes
 * over what the last collection left, or when it has just gone quiet after
 * a busy look (event loop utilization at least LIMITS.tuning.heapBusyShare:
 * a rebuild, a fill, a catch-up has ended). `onCollect` then gives back
 * native caches too (the store's SQLite page caches). A busy node collects
 * on its own (its heap use falls back); one whose live set grew (a cache
 * filled) sets a new base after one collection, so this never repeats for
 * nothing: at most once per busy stretch, or per heapGarbageBytes allocated.
 */
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { LIMITS } from '../limits.js';

type Collect = () => void;

let collect: Collect | null | undefined;

/** A full collection: global.gc when the process has it, else the same function exposed at run time. */
function collector(): Collect | null {
  if (collect !== undefined) return collect;
  const own = (globalThis as { gc?: Collect }).gc;
  if (typeof own === 'function') return (collect = own);
  try {
    // --expose-gc set now reaches contexts made after it: the new context's global has gc.
    v8.setFlagsFromString('--expose-gc');
    collect = vm.runInNewContext('gc') as Collect;
  } catch {
    collect = null;
  }
  return collect;
}

const used = (): number => v8.getHeapStatistics().used_heap_size;

/** Start the periodic look at the heap; returns the function that stops it. */
export function startHeapRelease(opts: { checkMs?: number; garbageBytes?: number; onCollect?: (before: number, after: number) => void } = {}): () => void {
  const checkMs = opts.checkMs ?? LIMITS.tuning.heapCheckMs;
  const garbage = opts.garbageBytes ?? LIMITS.tuning.heapGarbageBytes;
  let base = used();
  let wasBusy = false;
  let elu = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = used();
    const look = performance.eventLoopUtilization(elu);
    elu = performance.eventLoopUtilization();
    const busy = look.utilization >= LIMITS.tuning.heapBusyShare;
    const wentQuiet = wasBusy && !busy;
    wasBusy = busy;
    // V8 collected meanwhile (a busy node): what is left is the new base.
    if (now < base) base = now;
    if (now - base <= garbage && !wentQuiet) return;
    collector()?.();
    base = used();
    opts.onCollect?.(now, base);
  }, checkMs);
  // Never what keeps the process alive.
  timer.unref();
  return () => clearInterval(timer);
}
