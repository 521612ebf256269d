/**
 * Feeds bytes to a CommandReader whole, split at every offset, and byte by
 * byte and collects what came out in a comparable form.
 */
import { expect } from 'vitest';
import { CommandReader } from '../../../src/imap/wire/tokenizer.js';
import { GRAMMAR } from '../../../src/imap/registry.js';
import type { ReaderLimits, WireEvent } from '../../../src/imap/wire/types.js';

/** Events with APPEND bodies joined per message and Buffers as strings. */
export type Seen =
  | { kind: 'command'; command: unknown }
  | { kind: 'literal'; tag: string; size: number; sync: boolean; binary: boolean; append: unknown; before?: unknown[] }
  | { kind: 'body'; data: string }
  | { kind: 'error'; tag: string | null; status: string; code: string | null; text: string }
  | { kind: 'line'; text: string };

export interface DriveOptions {
  limits?: Partial<ReaderLimits>;
  /** Decide on each `literal` event; default accept. */
  decide?: (ev: Extract<WireEvent, { kind: 'literal' }>) => 'accept' | 'reject';
  /** Call expectLine() after a command with this name (e.g. IDLE, AUTHENTICATE). */
  lineAfter?: readonly string[];
}

/** JSON-friendly copy: Buffers → strings, bigint → "123n", Dates → ISO. */
export function plain(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return v.toString('latin1');
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = plain(x);
    return o;
  }
  return v;
}

export function drive(pieces: readonly Buffer[], opts: DriveOptions = {}): Seen[] {
  const r = new CommandReader(GRAMMAR, opts.limits);
  const out: Seen[] = [];
  let body: Buffer[] | null = null;
  let guard = 0;
  for (const p of pieces) {
    r.push(p);
    for (;;) {
      if (++guard > 10_000_000) throw new Error('runaway reader');
      const ev = r.next();
      if (ev.kind === 'needMore') break;
      switch (ev.kind) {
        case 'appendData':
          (body ??= []).push(Buffer.from(ev.chunk));
          break;
        case 'appendEnd':
          out.push({ kind: 'body', data: Buffer.concat(body ?? []).toString('latin1') });
          body = null;
          break;
        case 'literal': {
          out.push(plain(ev) as Seen);
          const d = opts.decide ? opts.decide(ev) : 'accept';
          if (d === 'accept') r.acceptLiteral();
          else r.rejectLiteral();
          break;
        }
        case 'command':
          out.push({ kind: 'command', command: plain(ev.command) });
          if (opts.lineAfter?.includes(ev.command.name)) r.expectLine();
          break;
        default:
          out.push(plain(ev) as Seen);
      }
    }
  }
  return out;
}

export function splits(input: Buffer): Array<{ name: string; pieces: Buffer[] }> {
  const out: Array<{ name: string; pieces: Buffer[] }> = [{ name: 'whole', pieces: [input] }];
  for (let i = 1; i < input.length; i++) out.push({ name: `split@${i}`, pieces: [input.subarray(0, i), input.subarray(i)] });
  const bytes: Buffer[] = [];
  for (let i = 0; i < input.length; i++) bytes.push(input.subarray(i, i + 1));
  out.push({ name: 'bytes', pieces: bytes });
  return out;
}

/** Run whole, at every split offset and byte by byte; all must give the same events. Returns them. */
export function driveAll(input: string | Buffer, opts: DriveOptions = {}): Seen[] {
  const buf = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const ref = drive([buf], opts);
  for (const s of splits(buf)) {
    const got = drive(s.pieces, opts);
    expect(got, s.name).toEqual(ref);
  }
  return ref;
}

/** The single command (as plain data) that `line` parses to, checked in every split. */
export function cmd(line: string): Record<string, unknown> {
  const ev = driveAll(line.endsWith('\n') ? line : line + '\r\n');
  expect(ev, line).toHaveLength(1);
  expect(ev[0]!.kind, JSON.stringify(ev[0])).toBe('command');
  return (ev[0] as { command: Record<string, unknown> }).command;
}

/** The single error a line gives, checked in every split. */
export function err(line: string, opts: DriveOptions = {}): { tag: string | null; status: string; code: string | null; text: string } {
  const ev = driveAll(line.endsWith('\n') ? line : line + '\r\n', opts);
  expect(ev, line).toHaveLength(1);
  expect(ev[0]!.kind, JSON.stringify(ev[0])).toBe('error');
  return ev[0] as { tag: string | null; status: string; code: string | null; text: string };
}
