/**
 * Vacation replies: the composer (RFC 3834 §3 fields, qmail-reply's
 * %HEADER% / %SUBJECT% rules) on real header bytes, and the once-per-sender
 * memory (RFC 3834 §2) kept durably and carried to a replica through the
 * journal of real stores, as the replication link carries it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { composeReply, NO_SUBJECT } from '../../src/delivery/vacation/compose.js';
import { HeaderCapture, readReplyHeader } from '../../src/delivery/vacation/header.js';
import { VacationMemory } from '../../src/delivery/vacation/memory.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'roost-vac-'));
const opened: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const o of opened.reverse()) await o.close().catch(() => undefined);
  fs.rmSync(root, { recursive: true, force: true });
});

function header(msg: string | Buffer) {
  const c = new HeaderCapture();
  c.push(Buffer.isBuffer(msg) ? msg : Buffer.from(msg, 'utf8'));
  return readReplyHeader(c.header());
}

const NOW = new Date(Date.UTC(2026, 11, 7, 6, 0, 0));
const INCOMING = 'From: Bob <bob@sender.example>\nTo: vac@example.org\nSubject: Lunch on\n Friday?\nMessage-ID: <m2@sender.example>\nReferences: <m0@sender.example> <m1@sender.example>\n\nbody\n';

const reply = (text: string, incoming: string | Buffer = INCOMING) =>
  composeReply({ text, from: 'vac@example.org', to: 'bob@sender.example', header: header(incoming), hostname: 'mx.test', now: NOW }).toString('latin1');

describe('composeReply', () => {
  it('default fields: From the account, To the sender, [Auto-Reply] subject, threading, auto-replied', () => {
    const r = reply('Away until Monday.\nBack soon.');
    const [head, body] = r.split('\n\n');
    expect(head!.replace(/^Message-ID: .*$/m, 'Message-ID: X')).toBe(
      [
        'Date: Mon, 7 Dec 2026 06:00:00 +0000',
        'From: <vac@example.org>',
        'To: <bob@sender.example>',
        'Subject: [Auto-Reply] Lunch on Friday?',
        'Message-ID: X',
        'In-Reply-To: <m2@sender.example>',
        'References: <m0@sender.example>\n <m1@sender.example>\n <m2@sender.example>',
        'Auto-Submitted: auto-replied',
        'Precedence: junk',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 8bit',
      ].join('\n'),
    );
    expect(head).toMatch(/^Message-ID: <\d+\.[0-9a-f]{16}\.vacation@mx\.test>$/m);
    expect(body).toBe('Away until Monday.\nBack soon.\n');
  });

  it('no Subject and no Message-ID: "Your Mail", no In-Reply-To/References', () => {
    const r = reply('Away.\n', 'From: bob@sender.example\nTo: vac@example.org\n\nbody\n');
    expect(r).toContain(`Subject: [Auto-Reply] ${NO_SUBJECT}\n`);
    expect(r).not.toMatch(/^In-Reply-To:|^References:/m);
  });

  it('%HEADER%: From, Subject (%SUBJECT%), Content-Type, X-* taken; To, Bcc, Precedence and the rest dropped', () => {
    const text = [
      '%header%',
      'From: "Vac Ation" <vac@example.org>',
      'To: everyone@example.org',
      'Bcc: spy@example.org',
      'Subject: Re: %subject% (I am away)',
      'Precedence: bulk',
      'Auto-Submitted: no',
      'Content-Type: text/plain; charset=iso-8859-1',
      'X-Note: first',
      '\tsecond',
      'Reply-To: boss@example.org',
      ' folded into a dropped field',
      '',
      'Body line one.',
      'Subject: %SUBJECT% stays as written in the body.',
      '',
    ].join('\r\n');
    const r = reply(text);
    const [head, ...rest] = r.split('\n\n');
    expect(head).toContain('From: "Vac Ation" <vac@example.org>\nTo: <bob@sender.example>\nSubject: Re: Lunch on Friday? (I am away)\n');
    expect(head).toContain('Content-Type: text/plain; charset=iso-8859-1\n');
    expect(head).toContain('\nX-Note: first\n\tsecond');
    for (const gone of ['everyone@', 'spy@', 'Precedence: bulk', 'Auto-Submitted: no', 'Reply-To: boss', 'folded into']) expect(head, gone).not.toContain(gone);
    expect(head).toContain('Auto-Submitted: auto-replied\nPrecedence: junk\n');
    expect(rest.join('\n\n')).toBe('Body line one.\nSubject: %SUBJECT% stays as written in the body.\n');
  });

  it('the incoming subject keeps its bytes (8-bit or encoded words) and is cut at the limit', () => {
    const raw = Buffer.concat([Buffer.from('To: vac@example.org\nSubject: =?utf-8?q?caf=C3=A9?= '), Buffer.from([0xe9]), Buffer.from('\n\n')]);
    expect(reply('x', raw)).toContain('Subject: [Auto-Reply] =?utf-8?q?caf=C3=A9?= \xe9\n');
    const n = LIMITS.delivery.maxReplySubjectBytes;
    expect(reply('x', `To: vac@example.org\nSubject: ${'s'.repeat(n)}\n\n`)).toContain(`Subject: [Auto-Reply] ${'s'.repeat(n)}\n`);
    expect(reply('x', `To: vac@example.org\nSubject: ${'s'.repeat(n)}t\n\n`)).toContain(`Subject: [Auto-Reply] ${'s'.repeat(n)}\n`);
  });

  it(`References keep at most ${LIMITS.delivery.maxReplyReferences} ids: the thread root and the most recent`, () => {
    const ids = (k: number) => Array.from({ length: k }, (_, i) => `<r${i}@x.example>`);
    const refsOf = (r: string) => r.match(/^References: ([^]*?)\nAuto-Submitted/m)![1]!.split('\n ');
    const n = LIMITS.delivery.maxReplyReferences;
    const at = refsOf(reply('x', `To: vac@example.org\nMessage-ID: <me@x.example>\nReferences: ${ids(n - 1).join(' ')}\n\n`));
    expect(at).toEqual([...ids(n - 1), '<me@x.example>']);
    const over = refsOf(reply('x', `To: vac@example.org\nMessage-ID: <me@x.example>\nReferences: ${ids(n).join(' ')}\n\n`));
    expect(over).toHaveLength(n);
    expect(over).toEqual(['<r0@x.example>', ...ids(n).slice(2), '<me@x.example>']);
    // Without References, In-Reply-To starts the list.
    expect(refsOf(reply('x', 'To: vac@example.org\nMessage-ID: <me@x.example>\nIn-Reply-To: <p@x.example>\n\n'))).toEqual(['<p@x.example>', '<me@x.example>']);
  });
});

async function node(name: string): Promise<{ store: Store; dataDir: string }> {
  const dataDir = path.join(root, name, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const store = await openStore({ dataDir, mailDir: path.join(root, name, 'mail'), hostname: 'test.host' });
  opened.push(store);
  return { store, dataDir };
}

const DAY = 24 * 3600 * 1000;
const WEEK = 7 * DAY;

describe('VacationMemory', () => {
  it('once per sender per window and per text; survives a reopen; reaches a replica through the journal', async () => {
    const p = await node('p');
    const r = await node('r');
    r.store.replication.setWritable(false);
    const file = path.join(p.dataDir, 'vacation.sqlite');
    let m = new VacationMemory(file, p.store, WEEK);
    const t0 = NOW.getTime();
    expect(m.claim('vac@example.org', 'Bob@Sender.example', 'away', t0)).toBe(true);
    // A second message from the same sender while the first reply is out waits for its outcome.
    expect(m.claim('vac@example.org', 'bob@sender.example', 'away', t0)).toBe(false);
    await m.remember('vac@example.org', 'bob@sender.example', 'away', t0);
    expect(m.claim('vac@example.org', '<BOB@sender.example>', 'away', t0 + WEEK - 1)).toBe(false);
    expect(m.claim('other@example.org', 'bob@sender.example', 'away', t0)).toBe(true);
    m.release('other@example.org', 'bob@sender.example');
    // A reply that was not handed off is not remembered.
    expect(m.claim('vac@example.org', 'carol@sender.example', 'away', t0)).toBe(true);
    m.release('vac@example.org', 'carol@sender.example');
    expect(m.claim('vac@example.org', 'carol@sender.example', 'away', t0)).toBe(true);
    m.release('vac@example.org', 'carol@sender.example');
    // A new text is news: each sender gets it once.
    expect(m.claim('vac@example.org', 'bob@sender.example', 'back on the 14th', t0 + DAY)).toBe(true);
    m.release('vac@example.org', 'bob@sender.example');
    // After the window, again.
    expect(m.claim('vac@example.org', 'bob@sender.example', 'away', t0 + WEEK)).toBe(true);
    m.release('vac@example.org', 'bob@sender.example');

    await m.close();
    m = new VacationMemory(file, p.store, WEEK);
    opened.push(m);
    expect(m.claim('vac@example.org', 'bob@sender.example', 'away', t0 + 1)).toBe(false);

    const rm = new VacationMemory(path.join(r.dataDir, 'vacation.sqlite'), r.store, WEEK);
    opened.push(rm);
    const errors: unknown[] = [];
    rm.follow((err) => errors.push(err));
    for (const rec of await p.store.readJournal(0n, 1000)) await r.store.replication.apply(rec, null);
    expect(errors).toEqual([]);
    expect(rm.claim('vac@example.org', 'bob@sender.example', 'away', t0 + 1)).toBe(false);
    expect(rm.appliedLsn()).toBe(p.store.lastLsn());

    // A file that missed the records (lost, or made after them) catches up from the journal.
    const late = new VacationMemory(path.join(r.dataDir, 'late.sqlite'), r.store, WEEK);
    opened.push(late);
    expect(await late.catchUp()).toBe(1);
    expect(late.claim('vac@example.org', 'bob@sender.example', 'away', t0 + 1)).toBe(false);
    expect(await late.catchUp()).toBe(0);

    // The replica cannot journal, so it cannot remember (it sends nothing: it delivers nothing).
    expect(rm.claim('vac@example.org', 'dave@sender.example', 'away', t0)).toBe(true);
    await expect(rm.remember('vac@example.org', 'dave@sender.example', 'away', t0)).rejects.toThrow();
    expect(rm.claim('vac@example.org', 'dave@sender.example', 'away', t0)).toBe(true);
  });

  it('keeps at most maxSenders senders per account, forgetting the oldest, and forgets entries past the window', async () => {
    const p = await node('cap');
    const m = new VacationMemory(path.join(p.dataDir, 'vacation.sqlite'), p.store, WEEK, 3);
    opened.push(m);
    const t0 = NOW.getTime();
    for (let i = 0; i < 3; i++) {
      expect(m.claim('vac@example.org', `s${i}@x.example`, 'away', t0 + i)).toBe(true);
      await m.remember('vac@example.org', `s${i}@x.example`, 'away', t0 + i);
    }
    expect(m.count('vac@example.org')).toBe(3);
    expect(m.claim('vac@example.org', 's0@x.example', 'away', t0 + 10)).toBe(false);
    expect(m.claim('vac@example.org', 's3@x.example', 'away', t0 + 10)).toBe(true);
    await m.remember('vac@example.org', 's3@x.example', 'away', t0 + 10);
    expect(m.count('vac@example.org')).toBe(3);
    // s0 was the oldest: forgotten, so it would get a reply again.
    expect(m.claim('vac@example.org', 's0@x.example', 'away', t0 + 11)).toBe(true);
    m.release('vac@example.org', 's0@x.example');
    expect(m.claim('vac@example.org', 's1@x.example', 'away', t0 + 11)).toBe(false);
    // A reply a week later clears everything older than the window.
    expect(m.claim('vac@example.org', 's9@x.example', 'away', t0 + 10 + WEEK)).toBe(true);
    await m.remember('vac@example.org', 's9@x.example', 'away', t0 + 10 + WEEK);
    expect(m.count('vac@example.org')).toBe(1);
    expect(new VacationMemory(path.join(p.dataDir, 'v2.sqlite'), p.store, WEEK)['maxSenders']).toBe(LIMITS.delivery.maxVacationSenders);
  });
});
