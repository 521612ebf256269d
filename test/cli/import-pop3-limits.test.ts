/**
 * `roost import … --pop3` reading the old server's listing
 * (src/cli/commands/import-pop3.ts pop3Listing) at N and N+1, against a
 * real POP3 peer on a socket: the wait for each answer, and the bytes of
 * one answer held before it is complete. Both limits are read when the
 * listing is fetched; they are lowered here so the test stays small.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pop3Listing } from '../../src/cli/commands/import-pop3.js';
import { LIMITS } from '../../src/limits.js';
import { TIMER_SLACK_MS } from '../helpers/timing.js';

const limits = LIMITS.importPop3 as { timeoutMs: number; maxListingBytes: number };
const saved = { ...limits };
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  Object.assign(limits, saved);
  for (const c of closers.splice(0)) await c();
});

/** A POP3 server with fixed UIDL and LIST answers; `silentAt` makes it say nothing from that command on. */
async function oldServer(uidl: string, list: string, silentAt?: string): Promise<number> {
  const open = new Set<net.Socket>();
  const server = net.createServer((s) => {
    open.add(s);
    s.on('error', () => undefined);
    let silent = false;
    let buf = '';
    s.write('+OK old server ready\r\n');
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let nl = buf.indexOf('\r\n'); nl >= 0; nl = buf.indexOf('\r\n')) {
        const verb = buf.slice(0, nl).split(' ')[0]!.toUpperCase();
        buf = buf.slice(nl + 2);
        if (verb === silentAt) silent = true;
        if (silent) continue;
        if (verb === 'UIDL') s.write(uidl);
        else if (verb === 'LIST') s.write(list);
        else if (verb === 'QUIT') s.end('+OK bye\r\n');
        else s.write('+OK\r\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  );
  return (server.address() as net.AddressInfo).port;
}

/** A UIDL answer (status line and final dot included) of exactly `bytes` bytes, and the LIST answer for the same messages. */
function listingOf(bytes: number): { uidl: string; list: string; count: number } {
  const lines: string[] = [];
  let size = '+OK\r\n'.length + '.\r\n'.length;
  for (let i = 1; ; i++) {
    const fixed = `${i} `.length + 2;
    const left = bytes - size - fixed;
    if (left <= 0) throw new Error(`cannot make ${bytes} bytes`);
    // Whole 70-character UIDLs while more than one more line fits, then one of the length that is left.
    const len = left > 70 + fixed + 1 ? 70 : left;
    if (len > 70) throw new Error('the last line would be too long');
    lines.push(`${i} ${`u${i}-`.padEnd(len, 'x')}`);
    size += fixed + len;
    if (size === bytes) break;
  }
  const uidl = `+OK\r\n${lines.map((l) => `${l}\r\n`).join('')}.\r\n`;
  expect(Buffer.byteLength(uidl)).toBe(bytes);
  const list = `+OK\r\n${lines.map((_, i) => `${i + 1} 100\r\n`).join('')}.\r\n`;
  return { uidl, list, count: lines.length };
}

const src = (port: number) => ({ secure: false, user: 'old@example.org', host: '127.0.0.1', port });

describe('the old server\'s POP3 listing at N and N+1', () => {
  it('importPop3.maxListingBytes: an answer of N bytes is read, one of N+1 is refused (LIMIT) before it ends', async () => {
    const N = 4096;
    limits.maxListingBytes = N;
    const atN = listingOf(N);
    const got = await pop3Listing(src(await oldServer(atN.uidl, atN.list)), 'pw', false);
    expect(got.length).toBe(atN.count);
    const over = listingOf(N + 1);
    await expect(pop3Listing(src(await oldServer(over.uidl, over.list)), 'pw', false)).rejects.toThrow(/the POP3 listing is larger than expected/);
  });

  it('importPop3.timeoutMs: a server silent after the greeting is given that long, then the import gives up', async () => {
    const T = 700;
    limits.timeoutMs = T;
    const port = await oldServer('', '', 'USER');
    const since = performance.now();
    await expect(pop3Listing(src(port), 'pw', false)).rejects.toThrow(/the POP3 server did not answer in time/);
    expect(performance.now() - since).toBeGreaterThanOrEqual(T - TIMER_SLACK_MS);
  });
});
