/**
 * Response text made of numbers and a few punctuation bytes (SORT's and
 * THREAD's answers: 100,000 numbers and more), written digit by digit into
 * one growing buffer instead of as a string per number joined at the end.
 */
export class NumberWriter {
  private buf: Buffer;
  private o = 0;
  private readonly digits = new Uint8Array(16);

  constructor(sizeHint = 256) {
    this.buf = Buffer.allocUnsafe(Math.max(16, sizeHint));
  }

  get length(): number {
    return this.o;
  }

  private room(n: number): void {
    if (this.o + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.o + n));
    this.buf.copy(next, 0, 0, this.o);
    this.buf = next;
  }

  /** ASCII text. */
  text(s: string): void {
    this.room(s.length);
    this.o += this.buf.write(s, this.o, 'latin1');
  }

  /** One ASCII byte ("(", ")", " "). */
  byte(b: number): void {
    this.room(1);
    this.buf[this.o++] = b;
  }

  /** A non-negative integer (a UID or sequence number) in decimal. */
  num(v: number): void {
    this.room(16);
    let d = 0;
    do {
      this.digits[d++] = 0x30 + (v % 10);
      v = Math.floor(v / 10);
    } while (v > 0);
    while (d > 0) this.buf[this.o++] = this.digits[--d]!;
  }

  /** The bytes written (a view of the buffer: write nothing more after taking it). */
  done(): Buffer {
    return this.buf.subarray(0, this.o);
  }
}

/** `prefix`, the numbers each after a space, then `suffix`, as one buffer. */
export function numberLine(prefix: string, nums: ArrayLike<number>, suffix: string): Buffer {
  // A UID or sequence number has at most 10 digits.
  const w = new NumberWriter(prefix.length + nums.length * 11 + suffix.length);
  w.text(prefix);
  for (let i = 0; i < nums.length; i++) {
    w.byte(0x20);
    w.num(nums[i]!);
  }
  w.text(suffix);
  return w.done();
}
