/**
 * SEARCH BODY / TEXT through the full-text index gives exactly what a brute
 * force scan gives (RFC 3501 §6.4.4: case-insensitive substring), over a
 * corpus of base64 and quoted-printable bodies in several charsets, RFC 2047
 * headers and multipart messages with text attachments. The brute force
 * decodes every message itself through the store API and compares strings.
 * Also: expunged messages leave the index, new ones join it, short needles
 * fall back to scanning, and the index file is really used.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodedHeaders, textForSearch } from '../../src/store/mime/decode.js';
import { INLINE_MAX } from '../../src/store/fts/fulltext.js';
import { login, type RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;
let c: RawImap;

const WORDS = [
  'Grüße aus Zürich',
  'Ελληνικά γράμματα',
  'Москва и Санкт-Петербург',
  'naïve café déjà vu',
  'łódź żółć',
  'quarterly REPORT numbers',
  'the quick brown fox jumps over the lazy dog',
  'Sehr geehrte Damen und Herren',
  'rare-word-xylophone',
  '日本語のテキスト',
];
const CHARSETS = ['utf-8', 'iso-8859-1', 'windows-1252', 'koi8-r', 'iso-8859-2', 'iso-8859-7', 'shift_jis'];

function encodable(text: string, charset: string): boolean {
  return iconv.decode(iconv.encode(text, charset), charset) === text;
}

function qp(buf: Buffer): string {
  let line = '';
  let out = '';
  for (const b of buf) {
    const ch = b === 0x0a ? '\n' : b >= 33 && b <= 126 && b !== 61 ? String.fromCharCode(b) : b === 32 ? ' ' : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
    if (ch === '\n') {
      out += `${line}\r\n`;
      line = '';
      continue;
    }
    // Soft line breaks every ~20 characters, so words are split across encoded lines.
    if (line.length + ch.length > 20) {
      out += `${line}=\r\n`;
      line = '';
    }
    line += ch;
  }
  return out + line;
}

function part(text: string, charset: string, cte: 'base64' | 'quoted-printable' | '8bit', type = 'text/plain'): string {
  const bytes = iconv.encode(text, charset);
  const body = cte === 'base64' ? bytes.toString('base64').replace(/.{1,60}/g, '$&\r\n') : cte === 'quoted-printable' ? qp(bytes) : bytes.toString('latin1');
  return `Content-Type: ${type}; charset=${charset}\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n${body}\r\n`;
}

function corpus(): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  for (const charset of CHARSETS) {
    for (const cte of ['base64', 'quoted-printable', '8bit'] as const) {
      const words = WORDS.filter((w) => encodable(w, charset));
      const text = `${words[i % words.length]}\n\nLine two mentions ${words[(i + 3) % words.length]} and more.\n`;
      const subjectWord = WORDS[(i + 5) % WORDS.length]!;
      const subject = `=?utf-8?b?${Buffer.from(`Subject ${subjectWord}`).toString('base64')}?=`;
      const head = `From: Sender ${i} <s${i}@example.net>\r\nTo: alice@example.org\r\nSubject: ${subject}\r\nMessage-ID: <f${i}@example.net>\r\nMIME-Version: 1.0\r\n`;
      let msg: string;
      if (i % 3 === 2) {
        const att = WORDS[(i + 7) % WORDS.length]!;
        msg =
          head +
          'Content-Type: multipart/mixed; boundary="bnd"\r\n\r\n--bnd\r\n' +
          part(text, charset, cte) +
          '--bnd\r\n' +
          part(`<p>${att}</p>`, 'utf-8', 'base64', 'text/html') +
          '--bnd\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
          Buffer.from('binary rare-word-xylophone never found').toString('base64') +
          '\r\n--bnd--\r\n';
      } else {
        msg = head + part(text, charset, cte);
      }
      out.push(Buffer.from(msg, 'latin1'));
      i++;
    }
  }
  return out;
}

/** The scan, written independently: decode every message and compare lower-cased strings. */
async function bruteForce(field: 'BODY' | 'TEXT', needle: string): Promise<number[]> {
  const h = await n.t.ctx.store.user(n.account).openMailbox('Fts', { readOnly: true });
  try {
    const out: number[] = [];
    const want = needle.toLowerCase();
    for (const m of h.snapshot().messages) {
      const raw = await h.readMessage(m.uid);
      const tree = await h.structure(m.uid);
      const body = textForSearch(raw, tree).body.toLowerCase();
      const headers = decodedHeaders(raw, tree.headerStart, tree.bodyStart).toLowerCase();
      if (body.includes(want) || (field === 'TEXT' && headers.includes(want))) out.push(m.uid);
    }
    return out;
  } finally {
    h.close();
  }
}

async function imapSearch(field: 'BODY' | 'TEXT', needle: string): Promise<number[]> {
  const bytes = Buffer.byteLength(needle);
  const r = await c.cmd(`UID SEARCH CHARSET UTF-8 ${field} {${bytes}+}\r\n${needle}`);
  expect(r.tagged).toMatch(/OK/);
  const line = r.untagged.find((l) => l.startsWith('* SEARCH'))!;
  return line
    .slice('* SEARCH'.length)
    .trim()
    .split(' ')
    .filter((x) => x !== '')
    .map(Number);
}

const QUERIES = [
  'zürich',
  'ZÜRICH',
  'grüße aus',
  'γράμματα',
  'САНКТ',
  'déjà',
  'café déjà',
  'żółć',
  'report',
  'Quarterly report numbers',
  'lazy dog',
  'brown fox jumps',
  'rare-word-xylophone',
  'テキスト',
  'line two mentions',
  'subject',
  'sender 4',
  'example.net',
  'no such text anywhere',
  'ab',
  'ü',
  'e',
  '"',
  'and more.',
];

beforeAll(async () => {
  n = await startImapNode();
  await n.t.ctx.store.user(n.account).createMailbox('Fts');
  await n.deliver(corpus(), { mailbox: 'Fts' });
  c = await login(n.port, n.user, n.pass);
  await c.cmd('SELECT Fts');
});
afterAll(async () => {
  c?.close();
  await n?.stop();
});

describe('a big backlog is indexed in the background while searches scan', () => {
  it('answers right at once, and the index fills up behind it', async () => {
    await n.t.ctx.store.user(n.account).createMailbox('Big');
    const msgs = Array.from({ length: INLINE_MAX + 40 }, (_, i) => `Subject: b${i}\r\n\r\n${i % 50 === 0 ? 'needle-in-haystack' : 'hay'} ${i}\r\n`);
    const uids = await n.deliver(msgs, { mailbox: 'Big' });
    const want = uids.filter((_, i) => i % 50 === 0);
    const b = await login(n.port, n.user, n.pass);
    await b.cmd('SELECT Big');
    const first = await b.cmd('UID SEARCH BODY needle-in-haystack');
    expect(first.untagged[0]).toBe(`* SEARCH ${want.join(' ')}`);
    // The background job indexes every message; poll the index file (bounded).
    const file = path.join(n.t.dataDir, 'fts', `${encodeURIComponent(n.account.id)}.sqlite`);
    const db = new Database(file, { readonly: true, fileMustExist: true });
    let count = 0;
    for (let i = 0; i < 200 && count < msgs.length; i++) {
      await new Promise((r) => setTimeout(r, 50));
      count = (db.prepare("SELECT count(*) AS c FROM docs WHERE uidvalidity = (SELECT max(uidvalidity) FROM docs)").get() as { c: number }).c;
    }
    db.close();
    expect(count).toBe(msgs.length);
    expect((await b.cmd('UID SEARCH BODY needle-in-haystack')).untagged[0]).toBe(`* SEARCH ${want.join(' ')}`);
    b.close();
  });
});

describe('SEARCH BODY/TEXT with the full-text index', () => {
  it('equals a brute-force scan for every query, BODY and TEXT', async () => {
    let nonEmpty = 0;
    for (const q of QUERIES) {
      for (const field of ['BODY', 'TEXT'] as const) {
        const want = await bruteForce(field, q);
        const got = await imapSearch(field, q);
        expect({ q, field, got }).toEqual({ q, field, got: want });
        if (want.length > 0) nonEmpty++;
      }
    }
    // The corpus really exercises matches, not only empty answers.
    expect(nonEmpty).toBeGreaterThan(QUERIES.length);
    expect(fs.existsSync(path.join(n.t.dataDir, 'fts', `${encodeURIComponent(n.account.id)}.sqlite`))).toBe(true);
  });

  it('combines with other keys, and follows expunges and new deliveries', async () => {
    const all = await imapSearch('BODY', 'lazy dog');
    expect(all.length).toBeGreaterThan(1);
    const first = all[0]!;
    const r = await c.cmd(`UID SEARCH UID ${first} BODY "lazy dog"`);
    expect(r.untagged[0]).toBe(`* SEARCH ${first}`);
    const not = await c.cmd(`UID SEARCH NOT BODY "lazy dog"`);
    const notUids = not.untagged[0]!.slice(9).split(' ').filter(Boolean).map(Number);
    expect(notUids.some((u) => all.includes(u))).toBe(false);
    await c.cmd(`UID STORE ${first} +FLAGS.SILENT (\\Deleted)`);
    await c.cmd(`UID EXPUNGE ${first}`);
    expect(await imapSearch('BODY', 'lazy dog')).toEqual(all.slice(1));
    const [uid] = await n.deliver([Buffer.from('Subject: late\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nZ=C3=BCrich late arrival, the LAZY=\r\n DOG\r\n')], { mailbox: 'Fts' });
    await c.cmd('NOOP');
    expect(await imapSearch('BODY', 'lazy dog')).toEqual([...all.slice(1), uid]);
    expect(await bruteForce('BODY', 'lazy dog')).toEqual([...all.slice(1), uid]);
  });
});
