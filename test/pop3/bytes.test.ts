/**
 * RFC 1939 §3 byte for byte: every RETR and TOP reply compared with a
 * reference built here line by line (bare LF → CRLF, a "." doubled at a
 * line start, CRLF "." CRLF at the end, one CRLF added when the message has
 * no final line end), over a raw socket, pipelined and one at a time, and
 * read back through Python's poplib. The messages are the edge cases: no
 * final line end, lines of dots, bare CR, bare LF in CRLF mail, the empty
 * message, and messages larger than one read (streamed) with dots at the
 * stream's chunk boundaries.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { RawClient } from '../helpers/pop3-client.js';
import { mailboxNode, startNode, type Pop3TestNode } from './helpers.js';
import { POP3_EDGE_MESSAGES } from '../helpers/messages.js';

const run = promisify(execFile);
const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'clients', 'poplib_dump.py');

/** A large LF-stored message with a line starting with "." just before, at and after each 64 KiB boundary. */
function streamed(crlf: boolean): Buffer {
  const nl = crlf ? '\r\n' : '\n';
  let s = `From: big@example.org${nl}Subject: streamed${nl}${nl}`;
  const boundary = 64 * 1024;
  let next = boundary;
  while (s.length < LIMITS.pop3.readWholeMaxBytes * 3) {
    if (s.length >= next - 2) {
      s += `.dot at ${s.length}${nl}.${nl}..${nl}`;
      next += boundary;
    } else s += `text line ${s.length}${nl}`;
  }
  return Buffer.from(s, 'latin1');
}

const MESSAGES: Buffer[] = POP3_EDGE_MESSAGES.map((m) => Buffer.from(m, 'latin1'));
MESSAGES.push(streamed(false), streamed(true));

/** Lines with their line ends (LF, after conversion CRLF); the last may have none. */
function lines(m: Buffer): string[] {
  return m.toString('latin1').replace(/\r?\n/g, '\r\n').match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

function stuffed(ls: string[]): Buffer {
  const body = ls.map((l) => (l.startsWith('.') ? `.${l}` : l)).join('');
  return Buffer.from(body === '' || body.endsWith('\r\n') ? `${body}.\r\n` : `${body}\r\n.\r\n`, 'latin1');
}

const retrReply = (m: Buffer): Buffer => stuffed(lines(m));

/** TOP n (RFC 1939 §7): the header, the blank line, then n lines of the body. */
function topReply(m: Buffer, n: number): Buffer {
  const ls = lines(m);
  const blank = ls.indexOf('\r\n');
  return stuffed(blank < 0 ? ls : ls.slice(0, blank + 1 + n));
}

const vsize = (m: Buffer): number => Buffer.byteLength(m.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');

describe('RETR and TOP byte for byte (RFC 1939 §3, §7)', () => {
  const box = mailboxNode('edge@example.org', MESSAGES, 60_000);
  const session = (): Promise<RawClient> => box.session();

  it('LIST gives each message its size with CRLF line ends', async () => {
    const c = await session();
    expect(await c.cmd('LIST')).toMatch(/^\+OK/);
    expect(await c.multi()).toEqual(MESSAGES.map((m, i) => `${i + 1} ${vsize(m)}`));
    c.destroy();
  });

  it('RETR one at a time', async () => {
    const c = await session();
    for (const [i, m] of MESSAGES.entries()) {
      expect(await c.cmd(`RETR ${i + 1}`)).toBe(`+OK ${vsize(m)} octets`);
      expect((await c.multiRaw()).toString('latin1')).toBe(retrReply(m).toString('latin1'));
    }
    expect(await c.cmd('NOOP')).toBe('+OK');
    c.destroy();
  });

  it('RETR and TOP pipelined in one write, in and out of order', async () => {
    const c = await session();
    const order = [...MESSAGES.keys(), ...[...MESSAGES.keys()].reverse()];
    const tops = [0, 1, 2, 1000];
    const cmds = [...order.map((i) => `RETR ${i + 1}`), ...MESSAGES.flatMap((_, i) => tops.map((n) => `TOP ${i + 1} ${n}`)), 'NOOP'];
    c.socket.write(cmds.map((l) => `${l}\r\n`).join(''));
    for (const i of order) {
      expect(await c.line()).toBe(`+OK ${vsize(MESSAGES[i]!)} octets`);
      expect((await c.multiRaw()).toString('latin1')).toBe(retrReply(MESSAGES[i]!).toString('latin1'));
    }
    for (const m of MESSAGES)
      for (const n of tops) {
        expect(await c.line()).toBe('+OK Top of message follows.');
        expect((await c.multiRaw()).toString('latin1'), `TOP ${n}`).toBe(topReply(m, n).toString('latin1'));
      }
    expect(await c.line()).toBe('+OK');
    c.destroy();
  });

  it('Python poplib reads back every line of every message, and of TOP 0 and TOP 3', async () => {
    const { stdout } = await run('python3', [script, String(box.node.port), 'edge@example.org', 'secret', '0', '3'], { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    const got = JSON.parse(stdout) as { resp: string; lines: string[]; octets: number; top: Record<string, string[]> }[];
    expect(got.length).toBe(MESSAGES.length);
    // poplib's lines: split at CRLF, dot-unstuffed, the terminator removed.
    const asPoplib = (reply: Buffer): string[] => {
      const ls = reply.toString('latin1').split('\r\n');
      ls.splice(-2);
      return ls.map((l) => (l.startsWith('.') ? l.slice(1) : l));
    };
    for (const [i, m] of MESSAGES.entries()) {
      expect(got[i]!.resp).toBe(`+OK ${vsize(m)} octets`);
      expect(got[i]!.lines).toEqual(asPoplib(retrReply(m)));
      expect(got[i]!.top['0']).toEqual(asPoplib(topReply(m, 0)));
      expect(got[i]!.top['3']).toEqual(asPoplib(topReply(m, 3)));
    }
  }, 90_000);
});

describe('a 60 MB message (RFC 1939 §3), streamed to a client that stops reading', () => {
  let node: Pop3TestNode;
  let expected: { length: number; sha: string };
  beforeAll(async () => {
    node = await startNode();
    await node.addUser('huge@example.org', 'secret');
    const line = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(2) + '\n';
    const parts = ['From: huge@example.org\nSubject: 60 MB\n\n'];
    let size = parts[0]!.length;
    for (let i = 0; size < 60 * 1024 * 1024; i++) {
      const l = i % 997 === 0 ? `.${line}` : line;
      parts.push(l);
      size += l.length;
    }
    const m = Buffer.from(parts.join(''), 'latin1');
    const reply = retrReply(m);
    expected = { length: reply.length, sha: createHash('sha256').update(reply).digest('hex') };
    await node.deliver('huge@example.org', m);
  }, 120_000);
  afterAll(async () => {
    await node.close();
  });

  it('arrives exact, while the server holds a bounded amount when the client pauses', async () => {
    const socket = net.connect({ port: node.port, host: '127.0.0.1' });
    let buf: Buffer = Buffer.alloc(0);
    let onData: () => void = () => undefined;
    socket.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      onData();
    });
    const until = (test: () => boolean, what: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timeout: ${what}`)), 60_000);
        onData = () => {
          if (!test()) return;
          clearTimeout(t);
          onData = () => undefined;
          resolve();
        };
        onData();
      });
    const line = async (): Promise<string> => {
      await until(() => buf.includes('\r\n'), 'a reply line');
      const i = buf.indexOf('\r\n');
      const l = buf.toString('latin1', 0, i);
      buf = buf.subarray(i + 2);
      return l;
    };
    expect(await line()).toMatch(/^\+OK/);
    socket.write('USER huge@example.org\r\nPASS secret\r\nRETR 1\r\nNOOP\r\n');
    expect(await line()).toMatch(/^\+OK/);
    expect(await line()).toMatch(/^\+OK Logged in/);
    expect(await line()).toMatch(/^\+OK \d+ octets$/);

    const hash = createHash('sha256');
    let got = 0;
    const take = (): void => {
      const n = Math.min(buf.length, expected.length - got);
      hash.update(buf.subarray(0, n));
      got += n;
      buf = buf.subarray(n);
    };
    await until(() => (take(), got >= 1024 * 1024), 'the first megabyte');
    socket.pause();
    let maxBuffered = 0;
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 25));
      maxBuffered = Math.max(maxBuffered, node.server.bufferedBytes());
    }
    expect(maxBuffered).toBeGreaterThan(0); // the server filled its socket and is waiting
    expect(maxBuffered).toBeLessThan(512 * 1024); // a streamed message holds about one read of the file, not the message
    socket.resume();
    await until(() => (take(), got >= expected.length), 'the whole message');
    expect(hash.digest('hex')).toBe(expected.sha);
    expect(await line()).toBe('+OK');
    socket.destroy();
  }, 120_000);
});
