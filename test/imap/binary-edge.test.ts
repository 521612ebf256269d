/**
 * BINARY and BODY edge cases over a socket (RFC 3516 §4.2, RFC 3501 §4.3):
 * a Content-Transfer-Encoding: binary part holding NUL and bare LFs
 * (imaptest append-binary), empty parts, base64 whose lines are not
 * multiples of 4 characters. BINARY.SIZE always equals the BINARY length.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;
let c: RawImap;

const header = (ct: string, cte: string): string =>
  `From: user@domain.org\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\nMime-Version: 1.0\r\nContent-Type: ${ct}\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n`;
/** imaptest append-binary's body: NUL, "-", 0xE4, LF, CRLF, LF. */
const binaryBody = Buffer.from([0x00, 0x2d, 0xe4, 0x0a, 0x0d, 0x0a, 0x0a]);

async function append(msg: Buffer): Promise<number> {
  const tag = c.nextTag();
  c.write(Buffer.concat([Buffer.from(`${tag} APPEND INBOX ~{${msg.length}+}\r\n`), msg, Buffer.from('\r\n')]));
  const r = await c.until(tag);
  const m = /APPENDUID \d+ (\d+)/.exec(r.tagged);
  if (!m) throw new Error(r.tagged);
  return Number(m[1]);
}

/** The literal's bytes of `item` in a FETCH line (the client hands literals back as latin1). */
function literal(line: string, item: string): Buffer {
  const at = line.indexOf(`${item} `);
  const m = /^~?\{(\d+)\}\r\n/.exec(line.slice(at + item.length + 1));
  if (at < 0 || !m) throw new Error(`no literal for ${item} in ${JSON.stringify(line)}`);
  const start = at + item.length + 1 + m[0].length;
  return Buffer.from(line.slice(start, start + Number(m[1])), 'latin1');
}

beforeAll(async () => {
  n = await startImapNode();
  c = await login(n.port, n.user, n.pass);
  await c.cmd('SELECT INBOX');
});
afterAll(async () => {
  c?.close();
  await n?.stop();
});

describe('a binary part with NUL and bare LFs (imaptest append-binary)', () => {
  it('BINARY[1] is the stored bytes and BINARY.SIZE[1] their count; BODY[1] carries no NUL', async () => {
    const uid = await append(Buffer.concat([Buffer.from(header('application/octet-stream', 'binary'), 'latin1'), binaryBody]));
    const b = await c.cmd(`UID FETCH ${uid} (BINARY.SIZE[1] BINARY.PEEK[1])`);
    expect(b.untagged[0]).toMatch(/BINARY\.SIZE\[1\] 7 BINARY\[1\] ~\{7\}\r\n/);
    expect(literal(b.untagged[0]!, 'BINARY[1]')).toEqual(binaryBody);
    // BODY[1] is the part as text: bare LFs completed with CR, NUL as 0x80 (a literal cannot carry NUL).
    const body = await c.cmd(`UID FETCH ${uid} (BODY.PEEK[1])`);
    expect(literal(body.untagged[0]!, 'BODY[1]')).toEqual(Buffer.from([0x80, 0x2d, 0xe4, 0x0d, 0x0a, 0x0d, 0x0a, 0x0d, 0x0a]));
    const whole = await c.cmd(`UID FETCH ${uid} (RFC822.SIZE BODY.PEEK[])`);
    const size = Number(/RFC822\.SIZE (\d+)/.exec(whole.untagged[0]!)![1]);
    const all = literal(whole.untagged[0]!, 'BODY[]');
    expect(all.length).toBe(size);
    expect(all.includes(0)).toBe(false);
    const partial = await c.cmd(`UID FETCH ${uid} (BODY.PEEK[1]<0.2>)`);
    expect(literal(partial.untagged[0]!, 'BODY[1]<0>')).toEqual(Buffer.from([0x80, 0x2d]));
  });

  it('a large body with NULs is streamed without them, at the announced size', async () => {
    const big = Buffer.alloc(40_000, 0x61);
    for (let i = 0; i < big.length; i += 1000) big[i] = 0;
    const uid = await append(Buffer.concat([Buffer.from(header('application/octet-stream', 'binary'), 'latin1'), big]));
    const r = await c.cmd(`UID FETCH ${uid} (BODY.PEEK[1] BINARY.SIZE[1])`);
    expect(r.untagged[0]).toContain('BINARY.SIZE[1] 40000 ');
    const got = literal(r.untagged[0]!, 'BODY[1]');
    expect(got.length).toBe(40_000);
    expect(got.includes(0)).toBe(false);
    expect(got[0]).toBe(0x80);
    const bin = await c.cmd(`UID FETCH ${uid} (BINARY.PEEK[1])`);
    expect(literal(bin.untagged[0]!, 'BINARY[1]')).toEqual(big);
  });

  it('BINARY[] of the whole message keeps the binary body as stored', async () => {
    const msg =
      'From: a@b.example\r\nMime-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="xx"\r\n\r\n' +
      '--xx\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n';
    const uid = await append(Buffer.concat([Buffer.from(msg, 'latin1'), binaryBody, Buffer.from('\r\n--xx--\r\n')]));
    const r = await c.cmd(`UID FETCH ${uid} (BINARY.SIZE[] BINARY.PEEK[] BINARY.SIZE[1] BINARY.PEEK[1])`);
    const line = r.untagged[0]!;
    const whole = literal(line, 'BINARY[]');
    expect(Number(/BINARY\.SIZE\[\] (\d+)/.exec(line)![1])).toBe(whole.length);
    expect(whole.includes(binaryBody)).toBe(true);
    expect(literal(line, 'BINARY[1]')).toEqual(binaryBody);
    expect(line).toContain('BINARY.SIZE[1] 7 ');
  });
});

describe('empty parts and awkward encodings', () => {
  it('an empty part: BODY[n], BINARY[n] and BINARY.SIZE[n] all say 0', async () => {
    const msg =
      'From: a@b.example\r\nMime-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="xx"\r\n\r\n' +
      '--xx\r\nContent-Type: text/plain\r\n\r\n\r\n' +
      '--xx\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n\r\n' +
      '--xx\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\r\n--xx--\r\n';
    const uid = await append(Buffer.from(msg, 'latin1'));
    for (const part of [1, 2, 3]) {
      const r = await c.cmd(`UID FETCH ${uid} (BINARY.SIZE[${part}] BINARY.PEEK[${part}] BODY.PEEK[${part}])`);
      expect(r.tagged).toMatch(/OK/);
      const line = r.untagged[0]!;
      expect(line).toContain(`BINARY.SIZE[${part}] 0 `);
      expect(literal(line, `BINARY[${part}]`).length).toBe(0);
      expect(literal(line, `BODY[${part}]`).length).toBe(0);
    }
  });

  it('base64 whose lines are not multiples of 4 characters decodes as one stream', async () => {
    const text = 'Hello, World! A line that needs more than one base64 quantum.';
    const b64 = Buffer.from(text).toString('base64');
    const lines = b64.match(/.{1,5}/g)!.join('\r\n');
    const uid = await append(Buffer.from(header('text/plain', 'base64') + lines + '\r\n', 'latin1'));
    const r = await c.cmd(`UID FETCH ${uid} (BINARY.SIZE[1] BINARY.PEEK[1])`);
    expect(r.untagged[0]).toContain(`BINARY.SIZE[1] ${text.length} `);
    expect(literal(r.untagged[0]!, 'BINARY[1]').toString()).toBe(text);
  });

  it('quoted-printable with soft breaks: BINARY.SIZE equals the decoded length', async () => {
    const uid = await append(Buffer.from(header('text/plain', 'quoted-printable') + 'caf=C3=A9 and a so=\r\nft break=\r\n\r\nend\r\n', 'latin1'));
    const r = await c.cmd(`UID FETCH ${uid} (BINARY.SIZE[1] BINARY.PEEK[1])`);
    const data = literal(r.untagged[0]!, 'BINARY[1]');
    expect(data.toString('utf8')).toBe('café and a soft break\r\nend\r\n');
    expect(r.untagged[0]).toContain(`BINARY.SIZE[1] ${data.length} `);
  });
});
