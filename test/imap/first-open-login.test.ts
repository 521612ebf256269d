/**
 * A LOGIN that opens an account for the first time indexes its Maildir
 * (a Maildir restored from backup or pointed at with mail_dir).
 * However long that takes, the client is waiting on the server, not idle:
 * the not-logged-in autologout (RFC 3501 §5.4, LIMITS.imap.notAuthTimeoutMs)
 * must not cut the LOGIN off. Here the limit is far shorter than indexing
 * 20,000 files takes; LOGIN still answers OK and SELECT sees every message.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

const limits = LIMITS.imap as { notAuthTimeoutMs: number };
const saved = { ...limits };
const FILES = 20_000;
let n: ImapTestNode;

beforeAll(async () => {
  limits.notAuthTimeoutMs = 300;
  n = await startImapNode();
});
afterAll(async () => {
  Object.assign(limits, saved);
  await n?.stop();
});

describe('LOGIN that indexes a big Maildir', () => {
  it(`is not autologged-out while it indexes ${FILES} files`, async () => {
    const a = await n.t.addUser('big@example.org', 'big-pw');
    for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(a.maildir, sub), { recursive: true });
    const tpl = path.join(a.maildir, 'template');
    // Bare LF and no W= in the names: each file is read for its CRLF size.
    fs.writeFileSync(tpl, 'From: s@example.net\nSubject: restored\n\nBody\n');
    for (let i = 0; i < FILES; i++) fs.linkSync(tpl, path.join(a.maildir, 'cur', `${1_700_000_000 + i}.M${i}P1.old:2,S`));
    fs.rmSync(tpl);
    const c = await RawImap.connect(n.port);
    await c.line();
    expect((await c.cmd('LOGIN big@example.org big-pw', 600_000)).tagged).toMatch(/^\S+ OK/);
    const sel = await c.cmd('SELECT INBOX', 600_000);
    expect(sel.untagged).toContain(`* ${FILES} EXISTS`);
    expect((await c.cmd(`FETCH ${FILES} RFC822.SIZE`)).untagged).toContain(`* ${FILES} FETCH (RFC822.SIZE 48)`);
    await c.cmd('LOGOUT');
  }, 900_000);
});
