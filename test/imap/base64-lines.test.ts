/**
 * Base64 bodies whose lines are not multiples of 4 characters:
 * RFC 2045 §6.8 lets line breaks fall anywhere ("all line breaks or other
 * characters not found in Table 1 must be ignored by decoding software"), so
 * a part is decoded whole, never line by line. BINARY[1], BINARY.SIZE[1] and
 * SEARCH BODY / TEXT of a word inside such a part, over a real connection;
 * quoted-printable with soft breaks inside a word likewise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

const TEXT = 'The quick brown fox jumps over the lazy dog; zebrafinch appears once, near the end.\n';

/** `text` in base64, cut into lines of `width` characters (any width is legal), with `eol`. */
function b64Lines(text: string, width: number, eol: string): string {
  const b = Buffer.from(text, 'utf8').toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b.length; i += width) lines.push(b.slice(i, i + width));
  return lines.join(eol) + eol;
}

function message(body: string, eol: string, cte = 'base64'): Buffer {
  const m = [
    'From: a@example.org',
    'Subject: odd lines',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Transfer-Encoding: ${cte}`,
    '',
  ].join(eol);
  return Buffer.from(`${m}${eol}${body}--b1--${eol}`, 'latin1');
}

let n: ImapTestNode;
let c: RawImap;

async function append(eml: Buffer): Promise<number> {
  c.write(`ap APPEND INBOX {${eml.length}+}\r\n`);
  c.write(Buffer.concat([eml, Buffer.from('\r\n')]));
  const r = await c.until('ap');
  const m = /APPENDUID \d+ (\d+)/.exec(r.tagged);
  if (!m) throw new Error(r.tagged);
  return Number(m[1]);
}

/** The literal of `UID FETCH uid item` (its bytes), or the tagged NO. */
async function fetchLiteral(uid: number, item: string): Promise<string> {
  const r = await c.cmd(`UID FETCH ${uid} (${item})`);
  expect(r.tagged).toMatch(/^\S+ OK/);
  const all = r.untagged.join('\r\n');
  const m = /~?\{(\d+)\}\r\n/.exec(all);
  if (!m) throw new Error(`no literal in ${all}`);
  return Buffer.from(all, 'latin1').subarray(Buffer.byteLength(all.slice(0, m.index + m[0].length), 'latin1')).subarray(0, Number(m[1])).toString('utf8');
}

const cases: { name: string; eml: Buffer }[] = [];
for (const width of [1, 3, 5, 6, 7, 13, 75, 77]) {
  for (const eol of ['\r\n', '\n']) cases.push({ name: `base64, lines of ${width}, ${eol === '\n' ? 'LF' : 'CRLF'}`, eml: message(b64Lines(TEXT, width, eol), eol) });
}
// Line breaks and blanks in odd places, the padding on a line of its own.
const b = Buffer.from(TEXT).toString('base64');
cases.push({ name: 'base64, ragged lines and blanks, padding alone', eml: message(`${b.slice(0, 10)}\r\n ${b.slice(10, 11)}\r\n${b.slice(11, 50)}\t\r\n${b.slice(50, -1)}\r\n${b.slice(-1)}\r\n`, '\r\n') });
// Quoted-printable: soft breaks inside the word and inside a UTF-8 sequence.
cases.push({
  name: 'quoted-printable, soft breaks inside words',
  eml: message(`The quick brown fox jumps over the lazy dog; zebra=\r\nfinch appears once, near the e=\r\nnd.\r\n`, '\r\n', 'quoted-printable'),
});

beforeAll(async () => {
  n = await startImapNode();
  c = await login(n.port, n.user, n.pass);
  await c.cmd('SELECT INBOX');
}, 60_000);
afterAll(async () => {
  c?.close();
  await n?.stop();
});

describe('base64 with lines of any length (RFC 2045 §6.8)', () => {
  for (const k of cases) {
    it(`${k.name}: BINARY[1], BINARY.SIZE[1], SEARCH BODY and TEXT`, async () => {
      const uid = await append(k.eml);
      const want = k.name.startsWith('quoted') ? TEXT.replace(/\n$/, '') : TEXT;
      expect(await fetchLiteral(uid, 'BINARY.PEEK[1]')).toBe(want);
      const size = await c.cmd(`UID FETCH ${uid} (BINARY.SIZE[1])`);
      expect(size.untagged.join(' ')).toContain(`BINARY.SIZE[1] ${Buffer.byteLength(want)}`);
      for (const key of ['BODY zebrafinch', 'TEXT zebrafinch', 'BODY "lazy dog"']) {
        const s = await c.cmd(`UID SEARCH UID ${uid} ${key}`);
        expect(s.untagged.join(' '), key).toMatch(new RegExp(`^\\* SEARCH ${uid}$`));
      }
      const none = await c.cmd(`UID SEARCH UID ${uid} BODY zebrafinches`);
      expect(none.untagged.join(' ')).toBe('* SEARCH');
    });
  }
});
