/**
 * SUBJECT, FROM, TO, CC, BCC and HEADER on the common fields are answered
 * from the search fields the index stores at delivery (index search_fields,
 * store/mime/search-header.ts), and the answer is exactly what the file
 * scan gives (RFC 3501 §6.4.4: case-insensitive substring of the decoded
 * field; the address keys also on the canonical address forms). Brute
 * force: random programs over the golden MIME fixtures and generated
 * messages with RFC 2047-encoded and raw UTF-8 subjects and names, folded
 * fields, repeated and missing fields, LF and CRLF line ends; each program
 * is answered once from the stored rows and once with every row removed
 * (the file path, which fills the rows in again lazily). Also: a restarted
 * node answers from the index with the files' contents gone, the limits
 * at N and N+1, and an index of version 2 gains the table at open.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { IndexDb, keptSearchFields } from '../../src/store/index/db.js';
import { INDEX_VERSION } from '../../src/store/index/schema.js';
import { searchHeader } from '../../src/store/mime/search-header.js';
import { asciiCasemap } from '../../src/imap/search/sort.js';
import { sortColumns } from '../../src/imap/search/sort-columns.js';
import { rng } from '../helpers/rng.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { login, type RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

const FIXTURES = '/work/shared/fixtures/mime';
const WORDS = ['Jürgen', 'Grüße', 'café', 'naïve', 'Ωmega', 'Москва', '日本語', 'straße', 'İstanbul', 'REPORT', 'Meeting', 'quarterly', 'x,y', 'a<b>'];

let n: ImapTestNode;
let c: RawImap;

function indexFiles(dataDir: string): string[] {
  const dir = path.join(dataDir, 'index');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.sqlite'))
    .map((f) => path.join(dir, f));
}

/** Run `fn` on every account index of the node (a second connection, as another process would). */
function withIndex<T>(dataDir: string, fn: (db: Database.Database) => T): T[] {
  return indexFiles(dataDir).map((f) => {
    const db = new Database(f);
    try {
      db.pragma('busy_timeout = 10000');
      return fn(db);
    } finally {
      db.close();
    }
  });
}

const storedRows = (dataDir: string): string[] =>
  withIndex(dataDir, (db) => (db.prepare('SELECT mailbox, uid, fields, addresses FROM search_fields ORDER BY mailbox, uid').all() as object[]).map((r) => JSON.stringify(r))).flat();

/** RFC 2047 encoded word (B or Q) of `text` in `charset`. */
function encodedWord(text: string, charset: string, b: boolean): string {
  const bytes = iconv.encode(text, charset);
  if (b) return `=?${charset}?B?${bytes.toString('base64')}?=`;
  let q = '';
  for (const x of bytes) q += x === 0x20 ? '_' : x > 0x20 && x < 0x7f && x !== 0x3d && x !== 0x3f && x !== 0x5f ? String.fromCharCode(x) : `=${x.toString(16).toUpperCase().padStart(2, '0')}`;
  return `=?${charset}?Q?${q}?=`;
}

/** A header text for `text`: raw, or encoded words (utf-8, or iso-8859-1 when it fits). */
function headerText(r: () => number, text: string): string {
  const pick = r();
  if (pick < 0.3) return text;
  const latin = iconv.decode(iconv.encode(text, 'iso-8859-1'), 'iso-8859-1') === text;
  const charset = latin && pick < 0.5 ? 'iso-8859-1' : 'utf-8';
  // Several words: adjacent encoded words are joined (RFC 2047 §6.2), plain words stay.
  return text
    .split(' ')
    .map((w) => (r() < 0.7 ? encodedWord(w, charset, r() < 0.5) : w))
    .join(' ');
}

/** Fold a field at some of its spaces (RFC 5322 §2.2.3). */
function fold(r: () => number, field: string, eol: string): string {
  return field.replace(/ /g, (s) => (r() < 0.3 ? `${eol}${r() < 0.5 ? '\t' : ' '}` : s));
}

function generated(r: () => number, k: number): string {
  const eol = r() < 0.8 ? '\r\n' : '\n';
  const w = (): string => WORDS[Math.floor(r() * WORDS.length)]!;
  const name = (): string => `${w()} ${w()}`;
  const addr = (i: number): string => {
    const a = `user${i}@host${i % 7}.example`;
    const p = r();
    if (p < 0.25) return a;
    if (p < 0.5) return `${headerText(r, name())} <${a}>`;
    if (p < 0.6) return `"${name()}, Jr." <${a}>`;
    if (p < 0.7) return `${a} (${name()})`;
    if (p < 0.8) return `crew: ${a}, other${i}@ship.example;`;
    return `<@relay.example:${a}>`;
  };
  const fields: string[] = [];
  if (r() < 0.9) fields.push(`From: ${addr(k)}`);
  if (r() < 0.85) fields.push(`To: ${addr(k + 1)}${r() < 0.3 ? `, ${addr(k + 2)}` : ''}`);
  if (r() < 0.4) fields.push(`Cc: ${addr(k + 3)}`);
  if (r() < 0.2) fields.push(`Bcc: ${addr(k + 4)}`);
  const subjects = r() < 0.1 ? 0 : r() < 0.1 ? 2 : 1;
  for (let i = 0; i < subjects; i++) fields.push(`${r() < 0.2 ? 'SUBJECT' : 'Subject'}: ${r() < 0.3 ? 'Re: ' : ''}${headerText(r, `${w()} ${w()} ${w()} ${k}`)}`);
  if (r() < 0.9) fields.push(`Message-ID: <m${k}.${Math.floor(r() * 1000)}@gen.example>`);
  if (r() < 0.4) fields.push(`In-Reply-To: <m${k - 1}@gen.example>`);
  if (r() < 0.4) fields.push(`References: ${Array.from({ length: 1 + Math.floor(r() * 8) }, (_, i) => `<m${k - i - 1}@gen.example>`).join(' ')}`);
  if (r() < 0.3) fields.push(`List-Id: ${headerText(r, w())} <list${k % 3}.gen.example>`);
  fields.push(`X-Other: ${w()} ${k}`);
  fields.push('Date: Tue, 24 Nov 2026 10:00:00 +0000');
  // Shuffled, so fields come in any order.
  for (let i = fields.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [fields[i], fields[j]] = [fields[j]!, fields[i]!];
  }
  return fields.map((f) => fold(r, f, eol)).join(eol) + eol + eol + `body ${w()} ${k}` + eol;
}

/** Needles: words in any case, pieces of them, and ASCII pieces of the stored messages' raw headers. */
function needle(r: () => number, rawPieces: string[]): string {
  const p = r();
  if (p < 0.1) return '';
  if (p < 0.45) {
    const word = WORDS[Math.floor(r() * WORDS.length)]!;
    const s = word.slice(Math.floor(r() * 2), Math.max(2, Math.floor(r() * word.length) + 1));
    return r() < 0.3 ? s.toUpperCase() : r() < 0.5 ? s.toLowerCase() : s;
  }
  const piece = rawPieces[Math.floor(r() * rawPieces.length)]!;
  const start = Math.floor(r() * piece.length);
  return piece.slice(start, start + 2 + Math.floor(r() * 10));
}

const KEY_NAMES = ['SUBJECT', 'FROM', 'TO', 'CC', 'BCC'];
const HEADER_FIELDS = ['Message-ID', 'in-reply-to', 'REFERENCES', 'List-Id', 'Subject', 'From', 'to', 'Cc', 'bcc', 'X-Other', 'Date'];

/** One random key (with its literal), or a combination of keys. */
function key(r: () => number, pieces: string[], depth = 0): string {
  const lit = (s: string): string => `{${Buffer.byteLength(s)}+}\r\n${s}`;
  const p = r();
  if (depth < 2 && p < 0.15) return `OR ${key(r, pieces, depth + 1)} ${key(r, pieces, depth + 1)}`;
  if (depth < 2 && p < 0.25) return `NOT ${key(r, pieces, depth + 1)}`;
  if (depth < 2 && p < 0.35) return `(${key(r, pieces, depth + 1)} ${key(r, pieces, depth + 1)})`;
  if (p < 0.4) return r() < 0.5 ? 'UNSEEN' : '1:40';
  if (p < 0.7) return `${KEY_NAMES[Math.floor(r() * KEY_NAMES.length)]} ${lit(needle(r, pieces))}`;
  return `HEADER ${HEADER_FIELDS[Math.floor(r() * HEADER_FIELDS.length)]} ${lit(needle(r, pieces))}`;
}

async function uidSearch(client: RawImap, keys: string): Promise<string> {
  const r = await client.cmd(`UID SEARCH CHARSET UTF-8 ${keys}`, 30_000);
  expect(r.tagged, keys).toMatch(/ OK /);
  return r.untagged.find((l) => l.startsWith('* SEARCH')) ?? '';
}

const PROGRAMS = 250;
let pieces: string[] = [];
let delivered = 0;

beforeAll(async () => {
  n = await startImapNode();
  c = await login(n.port, n.user, n.pass);
  const raws: Buffer[] = fs
    .readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.eml'))
    .sort()
    .map((f) => fs.readFileSync(path.join(FIXTURES, f)));
  const r = rng(2047);
  for (let k = 1; k <= 150; k++) raws.push(Buffer.from(generated(r, k)));
  for (const raw of raws) {
    const head = raw.subarray(0, Math.max(0, raw.indexOf('\n\n') >= 0 ? raw.indexOf('\n\n') : raw.indexOf('\r\n\r\n'))).toString('latin1');
    for (const line of head.split(/\r?\n/)) {
      const v = line.slice(line.indexOf(':') + 1).replace(/[^\x20-\x7e]/g, '');
      if (v.trim().length > 2) pieces.push(v.trim());
    }
  }
  pieces = pieces.slice(0, 5000);
  await n.deliver(raws);
  delivered = raws.length;
  expect((await c.cmd('SELECT INBOX')).tagged).toMatch(/ OK /);
}, 120_000);

afterAll(async () => {
  c?.close();
  await n?.stop();
});

describe('header search from the index equals the file scan (RFC 3501 §6.4.4)', () => {
  it('every delivered message has its stored row', () => {
    expect(storedRows(n.t.dataDir).length).toBe(delivered);
  });

  it(`${PROGRAMS} random programs: stored rows and file scan give the same UIDs; lazily filled rows equal the delivered ones`, async () => {
    const atDelivery = storedRows(n.t.dataDir);
    const r = rng(5051);
    let hits = 0;
    for (let i = 0; i < PROGRAMS; i++) {
      const keys = key(r, pieces);
      const fromIndex = await uidSearch(c, keys);
      withIndex(n.t.dataDir, (db) => db.prepare('DELETE FROM search_fields').run());
      const fromFiles = await uidSearch(c, keys);
      expect(fromIndex, keys).toBe(fromFiles);
      if (fromIndex !== '* SEARCH') hits++;
      // The rows the file scan filled in again (those of the messages it read) are the delivered ones.
      expect(atDelivery).toEqual(expect.arrayContaining(storedRows(n.t.dataDir)));
    }
    // The programs are not all empty answers (the comparison means something).
    expect(hits).toBeGreaterThan(PROGRAMS / 4);
    // One key that reads every message's fields fills every row.
    withIndex(n.t.dataDir, (db) => db.prepare('DELETE FROM search_fields').run());
    await uidSearch(c, 'SUBJECT x');
    expect(storedRows(n.t.dataDir)).toEqual(atDelivery);
  }, 300_000);

  it('known answers: an encoded subject, a folded References, a missing field, an encoded display name', async () => {
    await n.t.ctx.store.user(n.account).createMailbox('Known');
    await n.deliver(
      [
        'Subject: =?utf-8?B?R3LDvMOfZQ==?= aus =?iso-8859-1?Q?Z=FCrich?=\r\nFrom: =?utf-8?q?Doe=2C_J=C3=BCrgen?= <jd@far.example>\r\nMessage-ID: <a1@k.example>\r\n\r\nx\r\n',
        'From: pat@home.example\r\nReferences: <a1@k.example>\r\n <a2@k.example>\r\nList-Id: Roost Devs <devs.roost.example>\r\n\r\ny\r\n',
      ],
      { mailbox: 'Known' },
    );
    expect((await c.cmd('SELECT Known')).tagged).toMatch(/ OK /);
    const lit = (s: string): string => `{${Buffer.byteLength(s)}+}\r\n${s}`;
    expect(await uidSearch(c, `SUBJECT ${lit('GRÜSSE')}`)).toBe('* SEARCH');
    expect(await uidSearch(c, `SUBJECT ${lit('grüße aus zürich')}`)).toBe('* SEARCH 1');
    expect(await uidSearch(c, `FROM ${lit('doe, jürgen')}`)).toBe('* SEARCH 1');
    expect(await uidSearch(c, 'FROM jd@far.example')).toBe('* SEARCH 1');
    expect(await uidSearch(c, 'HEADER References "a2@K.EXAMPLE"')).toBe('* SEARCH 2');
    expect(await uidSearch(c, 'HEADER Subject ""')).toBe('* SEARCH 1');
    expect(await uidSearch(c, 'HEADER Message-ID <a1@k.example>')).toBe('* SEARCH 1');
    expect(await uidSearch(c, 'HEADER List-Id "devs.roost"')).toBe('* SEARCH 2');
    expect(await uidSearch(c, 'NOT HEADER Message-ID ""')).toBe('* SEARCH 2');
    expect((await c.cmd('SELECT INBOX')).tagged).toMatch(/ OK /);
  });

  it('COPY carries the stored rows to the copies', async () => {
    expect((await c.cmd('CREATE Copied')).tagged).toMatch(/ OK /);
    expect((await c.cmd('SELECT Known')).tagged).toMatch(/ OK /);
    expect((await c.cmd('COPY 1:2 Copied')).tagged).toMatch(/ OK /);
    const rows = (name: string): unknown[] =>
      withIndex(n.t.dataDir, (db) => db.prepare('SELECT s.uid, s.fields, s.addresses FROM search_fields s JOIN mailboxes m ON m.id = s.mailbox WHERE m.name = ? ORDER BY s.uid').all(name)).flat();
    expect(rows('Copied')).toHaveLength(2);
    expect(rows('Copied')).toEqual(rows('Known'));
    expect((await c.cmd('SELECT INBOX')).tagged).toMatch(/ OK /);
  });
});

describe('SORT and THREAD from the stored sort keys (RFC 5256, RFC 5957)', () => {
  const CRITERIA = ['ARRIVAL', 'DATE', 'SIZE', 'SUBJECT', 'FROM', 'TO', 'CC', 'DISPLAYFROM', 'DISPLAYTO'];
  const INBOX_ROWS = "SELECT k.uid, k.json FROM sort_keys k JOIN mailboxes m ON m.id = k.mailbox WHERE m.name = 'INBOX' ORDER BY k.uid";
  const sortKeyRows = (): string[] => withIndex(n.t.dataDir, (db) => (db.prepare(INBOX_ROWS).all() as object[]).map((r) => JSON.stringify(r))).flat();

  it('i;ascii-casemap maps a-z only, on ASCII and non-ASCII strings alike (RFC 4790 §9.2)', () => {
    const r = rng(4790);
    const alphabet = 'aZz_[`{~ 09ßéİıǆΩж日\u0000\u007f';
    for (let i = 0; i < 2000; i++) {
      const s = Array.from({ length: Math.floor(r() * 12) }, () => alphabet[Math.floor(r() * alphabet.length)]).join('');
      expect(asciiCasemap(s), JSON.stringify(s)).toBe(s.replace(/[a-z]/g, (m) => String.fromCharCode(m.charCodeAt(0) - 32)));
    }
  });

  it('every delivered message has its sort keys row, equal to its structure\'s', () => {
    const [bad] = withIndex(n.t.dataDir, (db) =>
      db.prepare("SELECT count(*) FROM structures s LEFT JOIN sort_keys k USING (mailbox, uid) WHERE k.json IS NULL OR k.json <> json_extract(s.json, '$.sort')").pluck().get(),
    );
    expect(bad).toBe(0);
    expect(sortKeyRows().length).toBeGreaterThanOrEqual(delivered);
  });

  it('60 random SORT programs and THREAD answer the same from the rows and from the structures; the rows are filled again', async () => {
    expect((await c.cmd('SELECT INBOX')).tagged).toMatch(/ OK /);
    const atDelivery = sortKeyRows();
    const r = rng(5256);
    const programs = ['THREAD REFERENCES UTF-8 ALL', 'THREAD ORDEREDSUBJECT UTF-8 ALL'];
    for (let i = 0; i < 60; i++) {
      const n1 = 1 + Math.floor(r() * 3);
      const crit = Array.from({ length: n1 }, () => `${r() < 0.3 ? 'REVERSE ' : ''}${CRITERIA[Math.floor(r() * CRITERIA.length)]}`);
      programs.push(`SORT (${crit.join(' ')}) UTF-8 ${r() < 0.3 ? 'UNSEEN' : 'ALL'}`);
    }
    for (const p of programs) {
      const fromRows = await c.cmd(p, 30_000);
      expect(fromRows.tagged, p).toMatch(/ OK /);
      withIndex(n.t.dataDir, (db) => {
        db.prepare("DELETE FROM sort_keys WHERE mailbox = (SELECT id FROM mailboxes WHERE name = 'INBOX')").run();
        // And the column image made from them (sort-column-image.ts), which a restart would read instead.
        db.prepare("DELETE FROM sort_columns WHERE mailbox = (SELECT id FROM mailboxes WHERE name = 'INBOX')").run();
      });
      // The keys the last command read stay in the process's sort columns: forgotten, so this one reads the index.
      sortColumns.clear();
      const fromStructures = await c.cmd(p, 30_000);
      expect(fromStructures.untagged, p).toEqual(fromRows.untagged);
      // ARRIVAL and SIZE come from the message records: only the other criteria read (and fill) the keys.
      if (/THREAD|DATE|SUBJECT|FROM|TO|CC/.test(p)) expect(sortKeyRows(), p).toEqual(atDelivery);
      else expect(sortKeyRows(), p).toEqual([]);
    }
  }, 300_000);
});

describe('limits of the stored fields (at N and N+1)', () => {
  it(`a header block ending within the first ${LIMITS.store.searchHeadBytes} bytes is stored at delivery; one byte more is filled by the first SEARCH`, async () => {
    const N = LIMITS.store.searchHeadBytes;
    // "Subject: s\r\nX-Pad: ...\r\n\r\n": the blank line's CRLF ends at byte `total`.
    const withHeaderOf = (total: number, tag: string): string => {
      const fixed = `Subject: ${tag}\r\nX-Pad: \r\n\r\n`.length;
      return `Subject: ${tag}\r\nX-Pad: ${'p'.repeat(total - fixed)}\r\n\r\nbody\r\n`;
    };
    await n.t.ctx.store.user(n.account).createMailbox('Head');
    const [atN, past] = await n.deliver([withHeaderOf(N, 'at-limit'), withHeaderOf(N + 1, 'past-limit')], { mailbox: 'Head' });
    const rows = (): number[] => withIndex(n.t.dataDir, (db) => db.prepare("SELECT s.uid FROM search_fields s JOIN mailboxes m ON m.id = s.mailbox WHERE m.name = 'Head' ORDER BY s.uid").pluck().all() as number[]).flat();
    expect(rows()).toEqual([atN]);
    expect((await c.cmd('SELECT Head')).tagged).toMatch(/ OK /);
    expect(await uidSearch(c, 'SUBJECT past-limit')).toBe(`* SEARCH ${past}`);
    expect(rows()).toEqual([atN, past]);
    expect(await uidSearch(c, 'SUBJECT limit')).toBe(`* SEARCH ${atN} ${past}`);
    expect((await c.cmd('SELECT INBOX')).tagged).toMatch(/ OK /);
  });

  it(`stored fields of ${LIMITS.store.maxStoredSearchChars} characters are kept; one more is kept out (the file is searched)`, () => {
    const N = LIMITS.store.maxStoredSearchChars;
    // "subject: " + value, no address fields: the stored text is the one line.
    const header = (chars: number): Buffer => Buffer.from(`Subject: ${'s'.repeat(chars - 'subject: '.length)}\r\n`);
    const atN = keptSearchFields(searchHeader(header(N), 0, header(N).length));
    expect(atN.fields?.length).toBe(N);
    expect(atN.addresses).toBe('');
    expect(keptSearchFields(searchHeader(header(N + 1), 0, header(N + 1).length))).toEqual({ fields: null, addresses: null });
  });

  it('a message whose fields were kept out is still found, from its file', async () => {
    await n.t.ctx.store.user(n.account).createMailbox('Long');
    // Under searchHeadBytes on disk, over maxStoredSearchChars stored: address fields are kept twice (as written and as forms).
    const list = (tag: string): string => Array.from({ length: 900 }, (_, i) => `${tag}${i}@long.example`).join(',\r\n ');
    const raw = `Subject: long one\r\nTo: ${list('t')}\r\nCc: ${list('c')}\r\n\r\nb\r\n`;
    expect(raw.length).toBeLessThan(LIMITS.store.searchHeadBytes);
    await n.deliver([raw], { mailbox: 'Long' });
    const kept = withIndex(n.t.dataDir, (db) => db.prepare("SELECT s.fields FROM search_fields s JOIN mailboxes m ON m.id = s.mailbox WHERE m.name = 'Long'").pluck().all()).flat();
    expect(kept).toEqual([null]);
    expect((await c.cmd('SELECT Long')).tagged).toMatch(/ OK /);
    expect(await uidSearch(c, 'TO t899@long')).toBe('* SEARCH 1');
    expect(await uidSearch(c, 'CC c0@long')).toBe('* SEARCH 1');
    expect(await uidSearch(c, 'SUBJECT "long one"')).toBe('* SEARCH 1');
    expect((await c.cmd('SELECT INBOX')).tagged).toMatch(/ OK /);
  });
});

describe('cold: after a restart the answer comes from the index, not the files', () => {
  let node: TestNode | null = null;
  afterAll(async () => {
    await node?.stop();
  });

  it('SUBJECT and HEADER Message-ID find messages whose files no longer say so; other fields read the files', async () => {
    const dataDir = n.t.dataDir;
    await n.t.ctx.store.user(n.account).createMailbox('Cold');
    await n.deliver(['Subject: cold =?utf-8?q?caf=C3=A9?=\r\nMessage-ID: <cold1@c.example>\r\nX-Other: before\r\n\r\nbody\r\n'], { mailbox: 'Cold' });
    c.close();
    await n.t.stop({ keep: true });
    // Rewrite the file in place (same name and size) while the node is down.
    const dir = path.join(n.account.maildir, '.Cold');
    for (const sub of ['new', 'cur']) {
      for (const f of fs.readdirSync(path.join(dir, sub))) {
        const p = path.join(dir, sub, f);
        const size = fs.statSync(p).size;
        const head = 'Subject: other\r\nX-Other: after\r\n\r\n';
        fs.writeFileSync(p, head + 'z'.repeat(size - head.length));
      }
    }
    node = await startTestNode({}, { dataDir });
    c = await login(node.ports.imap!, n.user, n.pass);
    expect((await c.cmd('SELECT Cold')).tagged).toMatch(/ OK /);
    expect(await uidSearch(c, 'SUBJECT cafe')).toBe('* SEARCH');
    expect(await uidSearch(c, `SUBJECT {5+}\r\ncafé`)).toBe('* SEARCH 1');
    expect(await uidSearch(c, 'HEADER Message-ID cold1@c.example')).toBe('* SEARCH 1');
    expect(await uidSearch(c, 'SUBJECT other')).toBe('* SEARCH');
    // X-Other is not stored: the file is read, and it now says "after".
    expect(await uidSearch(c, 'HEADER X-Other after')).toBe('* SEARCH 1');
  });
});

describe('index versions 3 and 4 (schema.ts)', () => {
  for (const [from, dropped] of [
    [2, ['search_fields', 'sort_keys']],
    [3, ['sort_keys']],
  ] as const) {
    it(`an index of version ${from} gains empty ${dropped.join(' and ')} tables at open`, async () => {
      const dir = fs.mkdtempSync(path.join(n.t.dataDir, `v${from}-`));
      const file = path.join(dir, 'a.sqlite');
      new IndexDb(file).close();
      const old = new Database(file);
      for (const t of dropped) old.exec(`DROP TABLE ${t}`);
      old.pragma(`user_version = ${from}`);
      old.close();
      const db = new IndexDb(file);
      try {
        expect(db.db.pragma('user_version', { simple: true })).toBe(INDEX_VERSION);
        expect(INDEX_VERSION).toBe(4);
        for (const t of ['search_fields', 'sort_keys']) expect(db.db.prepare(`SELECT count(*) FROM ${t}`).pluck().get()).toBe(0);
      } finally {
        db.close();
      }
    });
  }
});
