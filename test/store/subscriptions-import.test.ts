/** Dovecot and Courier subscription files read on import. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  formatDovecotSubscriptions,
  parseCourierSubscriptions,
  parseDovecotSubscriptions,
} from '../../src/store/maildir/subscriptions.js';
import { account, open, tempDir } from './helpers.js';

describe('subscription files', () => {
  it('reads Dovecot version 2 (TAB between levels, tab-escaped levels)', () => {
    const text = 'V\t2\n\nINBOX\nWork\t2024\nSent\nOdd\x01tName\n';
    // "Odd<TAB>Name" unescapes to a name with a control character, which no mailbox can have: left out.
    expect(parseDovecotSubscriptions(text)).toEqual(['INBOX', 'Work.2024', 'Sent']);
  });

  it('reads Dovecot version 1 and modified UTF-7 names', () => {
    expect(parseDovecotSubscriptions('INBOX\nWork.2024\n&AMk-t&AOk-\n')).toEqual(['INBOX', 'Work.2024', 'Été']);
  });

  it('takes a name that is not canonical modified UTF-7 as written (one codec, src/text/mutf7.ts)', () => {
    // "R&D-Team" is not a modified UTF-7 run ("D" is bad padding): the name stays as Dovecot 2.x wrote it, not "RTeam".
    expect(parseDovecotSubscriptions('V\t2\n\nR&D-Team\n')).toEqual(['R&D-Team']);
  });

  it('reads Courier (INBOX. namespace, CRLF tolerated)', () => {
    expect(parseCourierSubscriptions('INBOX\r\nINBOX.Sent\nINBOX.Lists.roost\n')).toEqual(['INBOX', 'Sent', 'Lists.roost']);
  });

  it('writes a version 2 file Dovecot and the reader agree on', () => {
    const names = ['INBOX', 'Work.2024', 'Percent 50%', 'Été'];
    const text = formatDovecotSubscriptions(names);
    expect(text.startsWith('V\t2\n\n')).toBe(true);
    expect(text).toContain('Work\t2024\n');
    expect(parseDovecotSubscriptions(text)).toEqual(names);
  });
});

describe('a Maildir imported without an index', () => {
  it('subscribes exactly what the Dovecot subscriptions file lists (5 of 17 stays 5)', async () => {
    const root = tempDir();
    try {
      const a = account(root, 'subs');
      const folders = Array.from({ length: 16 }, (_, i) => `F${i}`);
      for (const f of ['', ...folders.map((n) => `.${n}`)]) for (const s of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(a.maildir, f, s), { recursive: true });
      fs.writeFileSync(path.join(a.maildir, 'subscriptions'), formatDovecotSubscriptions(['INBOX', 'F1', 'F3', 'F5', 'F7']));
      const store = await open(root);
      try {
        const subs = await store.user(a).subscriptions();
        expect([...subs].sort()).toEqual(['F1', 'F3', 'F5', 'F7', 'INBOX']);
        expect((await store.user(a).listMailboxes()).length).toBeGreaterThanOrEqual(17);
      } finally {
        await store.close();
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('subscribes every folder when neither Dovecot nor Courier left a file (qmail Maildir)', async () => {
    const root = tempDir();
    try {
      const a = account(root, 'qm');
      for (const f of ['', '.A', '.B']) for (const s of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(a.maildir, f, s), { recursive: true });
      const store = await open(root);
      try {
        expect([...(await store.user(a).subscriptions())].sort()).toEqual(['A', 'B', 'INBOX']);
      } finally {
        await store.close();
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
