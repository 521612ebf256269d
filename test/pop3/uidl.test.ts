/**
 * UIDLs of a Maildir written by qmail conventions are what qmail-pop3d and
 * Courier report: the base file name without ":2,…", and
 * they stay the same across a reindex and a restart of the store.
 */
import { mkdirSync, writeFileSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import { RawClient } from '../helpers/pop3-client.js';
import { startNode, type Pop3TestNode } from './helpers.js';

const body = (n: number, eol: string): string =>
  [`Return-Path: <s${n}@example.org>`, `Delivered-To: q@example.org`, `From: s${n}@example.org`, `Subject: qmail ${n}`, '', `text ${n}`, ''].join(eol);

/** [directory, base name builder, info suffix, line end] — qmail-local, qmail with flags, Courier, Dovecot style. */
const FILES: [string, (size: number) => string, string, string][] = [
  ['new', () => '1234567890.12345.mailhost', '', '\n'],
  ['new', (s) => `1234567891.12346.mailhost,S=${s}`, '', '\n'],
  ['cur', (s) => `1234567892.12347.mailhost,S=${s}`, ':2,S', '\n'],
  ['cur', () => '1234567893.12348_1.mailhost', ':2,RS', '\r\n'],
  ['cur', (s) => `1234567894.M123456P999.mailhost,S=${s},W=${s + 6}`, ':2,', '\n'],
];

async function uidl(node: Pop3TestNode): Promise<{ uidl: string[]; list: string[] }> {
  const c = await RawClient.connect(node.port);
  await c.line();
  expect(await c.login('q@example.org', 'pw')).toMatch(/^\+OK Logged in, 5 messages/);
  c.send('UIDL');
  await c.line();
  const u = await c.multi();
  c.send('LIST');
  await c.line();
  const l = await c.multi();
  expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
  return { uidl: u, list: l };
}

describe('qmail-convention UIDLs', () => {
  let node: Pop3TestNode;
  const expected: { base: string; vsize: number }[] = [];
  beforeAll(async () => {
    node = await startNode();
    const account = await node.addUser('q@example.org', 'pw');
    for (const d of ['new', 'cur', 'tmp']) mkdirSync(path.join(account.maildir, d), { recursive: true });
    FILES.forEach(([dir, name, info, eol], i) => {
      const text = body(i, eol);
      const size = Buffer.byteLength(text);
      const base = name(size);
      const file = path.join(account.maildir, dir, base + info);
      writeFileSync(file, text);
      // qmail orders by time; give each its own mtime in name order
      utimesSync(file, 1234567890 + i, 1234567890 + i);
      expected.push({ base, vsize: Buffer.byteLength(text.replace(/\r?\n/g, '\r\n')) });
    });
    await node.store.reindex(account);
  });
  afterAll(async () => {
    await node.close();
  });

  it('UIDL = the Maildir base name; LIST = CRLF size', async () => {
    const r = await uidl(node);
    const byName = new Map(r.uidl.map((l) => [l.split(' ')[1]!, Number(l.split(' ')[0])]));
    expect([...byName.keys()].sort()).toEqual(expected.map((e) => e.base).sort());
    const sizes = new Map(r.list.map((l) => [Number(l.split(' ')[0]), Number(l.split(' ')[1])]));
    for (const e of expected) expect(sizes.get(byName.get(e.base)!)).toBe(e.vsize);
  });

  it('stable across reindex and a store restart', async () => {
    const first = await uidl(node);
    const account = node.accounts.get('q@example.org')!;
    await node.store.reindex(account);
    expect(await uidl(node)).toEqual(first);
    // a second store instance over the same data dir sees the same UIDs and names
    const again = await openStore({ dataDir: node.dir, mailDir: node.ctx.config.paths.mailDir, hostname: 'other' });
    const box = await again.user(account).openMailbox('INBOX', { readOnly: true });
    const names = box.snapshot().messages.map((m) => m.basename);
    box.close();
    await again.close();
    expect(names).toEqual(first.uidl.map((l) => l.split(' ')[1]));
  });
});
