/** Dovecot's keyword letters and dovecot-keywords. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  formatDovecotKeywords,
  keywordsFromLetters,
  lettersForKeywords,
  parseDovecotKeywords,
  readDovecotKeywords,
  ensureKeywordLetters,
  keywordIndex,
  writeDovecotKeywords,
  type KeywordTable,
} from '../../src/store/maildir/keyword-letters.js';
import { account, open, tempDir } from './helpers.js';

describe('keyword letters (pure)', () => {
  it('parses dovecot-keywords and maps letters a–z through it', () => {
    const table = parseDovecotKeywords('0 $Forwarded\n1 $Junk\n3 $Label1\nnot a line\n30 $TooFar\n2 \\Seen\n');
    expect(table[0]).toBe('$Forwarded');
    expect(table[2]).toBeUndefined();
    expect(table.length).toBe(4);
    // S and F are system flags; c has no keyword (index 2 unused).
    expect(keywordsFromLetters('FSabcd', table)).toEqual(['$Forwarded', '$Junk', '$Label1']);
  });

  it('gives new keywords the first free index, case-insensitively, and stops at z', () => {
    const table: KeywordTable = ['$Forwarded', undefined, '$Junk'];
    expect(lettersForKeywords(['$junk', '$NotJunk'], table)).toEqual({ letters: 'bc', grew: true });
    expect(table[1]).toBe('$NotJunk');
    expect(lettersForKeywords(['$Forwarded'], table)).toEqual({ letters: 'a', grew: false });
    const full: KeywordTable = Array.from({ length: 26 }, (_, i) => `k${i}`);
    expect(lettersForKeywords(['k25', 'k26'], full)).toEqual({ letters: 'z', grew: false });
    expect(full.length).toBe(26);
  });

  it('writes a file the parser reads back', () => {
    const dir = tempDir();
    try {
      const table: KeywordTable = ['$Forwarded', undefined, '$Label2'];
      writeDovecotKeywords(dir, table);
      expect(fs.readFileSync(path.join(dir, 'dovecot-keywords'), 'utf8')).toBe(formatDovecotKeywords(table));
      expect(readDovecotKeywords(dir)).toEqual(table);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('letters given concurrently', () => {
  it('concurrent assignments in one folder give distinct letters, all in dovecot-keywords, old indexes kept', async () => {
    const dir = tempDir();
    try {
      fs.writeFileSync(path.join(dir, 'dovecot-keywords'), '0 $Forwarded\n');
      const n = 20;
      const names = Array.from({ length: n }, (_, i) => `$Tag${i}`);
      const tables = await Promise.all(names.map((k) => ensureKeywordLetters(dir, ['\\Seen', k])));
      const onDisk = readDovecotKeywords(dir);
      expect(keywordIndex('$Forwarded', onDisk)).toBe(0);
      const indexes = names.map((k) => keywordIndex(k, onDisk));
      expect(new Set(indexes).size).toBe(n);
      expect(indexes.every((i) => i > 0)).toBe(true);
      // Each caller names its file with the letter the file gives its keyword.
      names.forEach((k, i) => expect(keywordIndex(k, tables[i]!)).toBe(indexes[i]));
      // Known keywords: no file read or write, the same table.
      expect(await ensureKeywordLetters(dir, ['$tag3'])).toBe(tables[n - 1]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('import of a Dovecot Maildir with keywords', () => {
  it('keeps the keywords its file names carry', async () => {
    const root = tempDir();
    try {
      const a = account(root, 'kw');
      for (const s of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(a.maildir, s), { recursive: true });
      fs.writeFileSync(path.join(a.maildir, 'dovecot-keywords'), '0 $Forwarded\n1 $Junk\n2 $Label1\n');
      const body = 'Subject: k\n\nk\n';
      fs.writeFileSync(path.join(a.maildir, 'cur', '1600000000.M1P1.old,S=12:2,Sa'), body);
      fs.writeFileSync(path.join(a.maildir, 'cur', '1600000001.M2P1.old,S=12:2,bc'), body);
      fs.writeFileSync(path.join(a.maildir, 'cur', '1600000002.M3P1.old,S=12:2,S'), body);
      const store = await open(root);
      try {
        const box = await store.user(a).openMailbox('INBOX', { readOnly: true });
        expect(box.snapshot().messages.map((m) => [...m.flags].sort())).toEqual([['$Forwarded', '\\Seen'], ['$Junk', '$Label1'], ['\\Seen']]);
        box.close();
      } finally {
        await store.close();
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
