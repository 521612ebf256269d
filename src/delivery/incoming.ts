/**
 * The message a final delivery receives (./deliver.ts), in its own module so
 * that ./forward.ts can hand it on without importing the delivery that
 * calls it.
 */
import { isAscii } from 'node:buffer';
import type { Draft, DraftOptions, Store } from '../store/store.js';
import { TraceScanner } from './trace.js';
import { HeaderCapture } from './vacation/header.js';

/**
 * A message being received: the store's draft plus the header scan for the
 * loop checks and the header copy a vacation reply is decided on, fed with
 * the same chunks (the client's bytes; a prefix given to the draft is ours
 * and not scanned), and whether any octet is above 127, so a hand-off knows
 * it needs BODY=8BITMIME (RFC 6152 §2-3) without reading the stored copy again.
 */
export class Incoming {
  readonly trace = new TraceScanner();
  readonly header = new HeaderCapture();
  private ascii: boolean;

  /** A new draft in `store` for a message being received; the prefix counts for the 8-bit check. */
  static async open(store: Store, opts: DraftOptions, deliveredTo?: string): Promise<Incoming> {
    return new Incoming(await store.createDraft(opts), deliveredTo, opts.prefix);
  }

  /**
   * @param deliveredTo the address of the `Delivered-To:` line the draft's
   * prefix already carries (LMTP with one recipient), so a forward for that
   * address does not get the line twice.
   * @param prefix the bytes the draft was started with, checked for 8-bit octets only.
   */
  constructor(
    readonly draft: Draft,
    readonly deliveredTo?: string,
    prefix?: Buffer,
  ) {
    this.ascii = prefix === undefined || isAscii(prefix);
  }

  /** Some octet so far (prefix included) is above 127. */
  get eightBit(): boolean {
    return !this.ascii;
  }

  write(chunk: Buffer): Promise<void> {
    this.trace.push(chunk);
    this.header.push(chunk);
    if (this.ascii && !isAscii(chunk)) this.ascii = false;
    return this.draft.write(chunk);
  }
}
