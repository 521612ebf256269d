/**
 * Log a condition once per key, not once per message: a bounded set of keys
 * already logged. At `max` keys the memory starts over, so a warning may
 * repeat; that costs a log line, never correctness.
 */
export class SeenOnce {
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {}

  /** True the first time `key` is offered (since the memory last started over). */
  first(key: string): boolean {
    if (this.seen.has(key)) return false;
    if (this.seen.size >= this.max) this.seen.clear();
    this.seen.add(key);
    return true;
  }
}
