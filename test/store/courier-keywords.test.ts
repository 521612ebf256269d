/**
 * Courier-IMAP's keywords: courierimapkeywords/:list and the
 * per-message update files are read when a Courier Maildir is taken in, so
 * the keywords come across as they do from Dovecot's dovecot-keywords.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { parseCourierList, readCourierKeywords } from '../../src/store/maildir/courier-keywords.js';
import { account, open, tempDir } from './helpers.js';

function folder(): string {
  const dir = tempDir();
  for (const s of ['cur', 'new', 'tmp', 'courierimapkeywords']) fs.mkdirSync(path.join(dir, s), { recursive: true });
  return dir;
}

describe('courierimapkeywords (pure)', () => {
  it('parses :list: names up to the empty line, then base name → numbers; bad lines and unknown numbers skipped', () => {
    const list = parseCourierList('$Junk\n$Label1\nWork\n\nmsg1,S=10:0 2\nmsg2:1\nbroken line\nmsg3:7\nmsg4:\n');
    expect([...list]).toEqual([
      ['msg1,S=10', ['$Junk', 'Work']],
      ['msg2', ['$Label1']],
    ]);
  });

  it('update files replace a message\'s line: a plain name over numbered ones, the highest number among those', () => {
    const dir = folder();
    try {
      const kw = path.join(dir, 'courierimapkeywords');
      fs.writeFileSync(path.join(kw, ':list'), '$Junk\n$Label1\n\na:0\nb:0 1\nc:1\nd:0\n');
      fs.writeFileSync(path.join(kw, '.3.a'), '$Label2\n');
      fs.writeFileSync(path.join(kw, '.10.a'), '$Label3\n$Junk\n');
      fs.writeFileSync(path.join(kw, '.12.b'), 'Old\n');
      fs.writeFileSync(path.join(kw, 'b'), 'Newest\n');
      fs.writeFileSync(path.join(kw, '.4.c'), '\n');
      fs.writeFileSync(path.join(kw, '.1.e'), 'Fresh\n');
      const got = readCourierKeywords(dir);
      expect(Object.fromEntries(got)).toEqual({ a: ['$Label3', '$Junk'], b: ['Newest'], d: ['$Junk'], e: ['Fresh'] });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`reads a file of ${LIMITS.store.maxCourierKeywordsBytes} bytes and ignores one byte more`, () => {
    const dir = folder();
    try {
      const head = '$Junk\n\nm:0\n';
      const file = path.join(dir, 'courierimapkeywords', ':list');
      fs.writeFileSync(file, head + ' '.repeat(LIMITS.store.maxCourierKeywordsBytes - head.length));
      expect(readCourierKeywords(dir).get('m')).toEqual(['$Junk']);
      fs.appendFileSync(file, ' ');
      expect(readCourierKeywords(dir).size).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a folder without courierimapkeywords has none', () => {
    const dir = tempDir();
    try {
      expect(readCourierKeywords(dir).size).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('taking in a Courier Maildir', () => {
  it('the index rebuild gives each message its Courier keywords beside its flags', async () => {
    const root = tempDir();
    try {
      const a = account(root, 'courier');
      for (const s of ['cur', 'new', 'tmp', 'courierimapkeywords']) fs.mkdirSync(path.join(a.maildir, s), { recursive: true });
      fs.writeFileSync(path.join(a.maildir, 'courierimapuiddb'), '1 1600000000 4\n1 1600000000.M1P1.old,S=12\n2 1600000001.M2P1.old,S=12\n3 1600000002.M3P1.old,S=12\n');
      fs.writeFileSync(path.join(a.maildir, 'courierimapkeywords', ':list'), '$Forwarded\n$Label1\n\n1600000000.M1P1.old,S=12:0\n1600000001.M2P1.old,S=12:0 1\n');
      fs.writeFileSync(path.join(a.maildir, 'courierimapkeywords', '.5.1600000002.M3P1.old,S=12'), 'NonJunk\n');
      const body = 'Subject: k\n\nk\n';
      fs.writeFileSync(path.join(a.maildir, 'cur', '1600000000.M1P1.old,S=12:2,S'), body);
      fs.writeFileSync(path.join(a.maildir, 'cur', '1600000001.M2P1.old,S=12:2,'), body);
      fs.writeFileSync(path.join(a.maildir, 'cur', '1600000002.M3P1.old,S=12:2,F'), body);
      const store = await open(root);
      try {
        const box = await store.user(a).openMailbox('INBOX', { readOnly: true });
        expect(box.uidvalidity).toBe(1600000000);
        expect(box.snapshot().messages.map((m) => [m.uid, [...m.flags].sort()])).toEqual([
          [1, ['$Forwarded', '\\Seen']],
          [2, ['$Forwarded', '$Label1']],
          [3, ['NonJunk', '\\Flagged']],
        ]);
        box.close();
      } finally {
        await store.close();
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
