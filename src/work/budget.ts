/**
 * CPU work on the one event loop, in bounded slices and under a budget.
 *
 * Roost serves every session from one Node.js thread, so a command whose
 * cost grows with the user's data (SEARCH over a big body, thousands of
 * keys, SORT/THREAD over a big mailbox) must not run to the end in one go:
 * meanwhile no other client would get a greeting, a POP3 line or a QMQP
 * answer. Such work charges its units here and calls `pause()` at safe
 * points; once LIMITS.work.sliceMs has passed since the loop last ran,
 * `pause()` yields (setImmediate: pending I/O callbacks run first), so
 * others wait at most one slice.
 *
 * Why slices on the main thread and not a worker_threads pool: the work is
 * linear once each key is prepared and each body folded once, the data
 * (message bytes, stored structures, the index) already lives on this
 * thread, and a worker would need the whole body copied or read again and
 * a second build of the decoders; slicing costs one clock read per chunk.
 * The budget (LIMITS.imap.commandWorkUnits) counts units, not wall time, so
 * a slow disk or a busy machine never turns a legitimate command into NO
 * [LIMIT], and the limit is exact: N units pass, N+1 do not.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { RoostError } from '../errors.js';
import { LIMITS } from '../limits.js';

export class WorkBudget {
  private used = 0;
  private sliceStart = performance.now();

  constructor(readonly limit: number = LIMITS.imap.commandWorkUnits) {}

  /** Units charged so far. */
  get spent(): number {
    return this.used;
  }

  /** Count `units` of work; past the budget the command is refused (NO [LIMIT]). */
  charge(units: number): void {
    this.used += units;
    if (this.used > this.limit) {
      throw new RoostError('LIMIT', `Command needs more work than allowed (${this.limit} units)`);
    }
  }

  /** Yield to the event loop when the current slice has run its time; otherwise return at once. */
  async pause(): Promise<void> {
    if (performance.now() - this.sliceStart < LIMITS.work.sliceMs) return;
    await nextTurn();
    this.sliceStart = performance.now();
  }

  /** charge() then pause(). */
  async step(units: number): Promise<void> {
    this.charge(units);
    await this.pause();
  }
}
