/**
 * Small message files read on the main thread. Through the
 * thread pool, open, read and close of a 4 KB file are three round trips
 * that each cost more main-thread time than the system call itself (the
 * request hand-off and wake-ups: a POP3 download profile showed about a
 * third of the main thread in submitting them, 13 futex calls per message).
 * A file in the page cache is read in microseconds with openSync/readSync/closeSync.
 *
 * The price: a read that waits for the disk holds the event loop. So the
 * process's block-input count (getrusage ru_inblock, which grows only when a
 * file system read went to the device) is looked at every
 * LIMITS.store.quickReadCheckEvery quick reads, and at once after a read
 * slower than quickReadSlowMs; when it grew, or quickReadSlowInARow quick
 * reads in a row were that slow (a remote file system, whose waits the count
 * may not show), reads go back to the thread pool for quickReadBackoffMs. So
 * at most one window of cold reads per back-off period holds the loop.
 *
 * One slow read alone with no block input is not taken as a cold disk: on a
 * loaded machine the scheduler can leave the thread off the CPU for tens of
 * milliseconds in the middle of a page-cache read (measured under load
 * average 17: a 30 µs read took 21 ms once in a thousand), and backing off
 * for that sent the rest of a 1,000-body FETCH through the thread pool.
 */
import fs from 'node:fs';
import { LIMITS } from '../../limits.js';

let coldUntil = -Infinity;
let sinceCheck = 0;
/** Quick reads just before this one that took longer than quickReadSlowMs, consecutively. */
let slowInARow = 0;
let lastInblock = process.resourceUsage().fsRead;
/** A back-off began: the count is taken afresh at the next quick read (reads meanwhile went through the thread pool). */
let rebase = false;

/** A quick read of `size` bytes is allowed now. */
export function quickReadAllowed(size: number): boolean {
  return size <= LIMITS.store.quickReadMaxBytes && performance.now() >= coldUntil;
}

/**
 * The whole file, `size` being its expected length: one read when right (the
 * buffer has a byte more, so the short read is EOF), read on to the end when
 * the file is longer. Throws what open(2) throws (ENOENT: the caller looks
 * the file up again).
 */
export function quickRead(file: string, size: number): Buffer {
  if (rebase) {
    rebase = false;
    sinceCheck = 0;
    lastInblock = process.resourceUsage().fsRead;
  }
  const t0 = performance.now();
  const fd = fs.openSync(file, 'r');
  try {
    let buf = Buffer.allocUnsafe(size + 1);
    let got = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, got, buf.length - got, got);
      got += n;
      if (n === 0 || got < buf.length) return buf.subarray(0, got);
      const bigger = Buffer.allocUnsafe(buf.length * 2);
      buf.copy(bigger);
      buf = bigger;
    }
  } finally {
    fs.closeSync(fd);
    note(t0);
  }
}

function note(t0: number): void {
  const t1 = performance.now();
  const slow = t1 - t0 > LIMITS.store.quickReadSlowMs;
  slowInARow = slow ? slowInARow + 1 : 0;
  let cold = slowInARow >= LIMITS.store.quickReadSlowInARow;
  if (++sinceCheck >= LIMITS.store.quickReadCheckEvery || slow) {
    sinceCheck = 0;
    const inblock = process.resourceUsage().fsRead;
    if (inblock > lastInblock) cold = true;
    lastInblock = inblock;
  }
  if (cold) {
    coldUntil = t1 + LIMITS.store.quickReadBackoffMs;
    rebase = true;
    slowInARow = 0;
  }
}

/**
 * Time a quick read as if it had taken `ms` (tests: the back-off rules
 * without a slow file system). Returns whether quick reads are now in back-off.
 */
export function noteQuickReadForTest(ms: number): boolean {
  note(performance.now() - ms);
  return quickReadCold();
}

/** Quick reads are in back-off now (tests). */
export function quickReadCold(): boolean {
  return performance.now() < coldUntil;
}
