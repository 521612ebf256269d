/**
 * RETR and TOP replies byte for byte beside a real Dovecot 2.3 (the server
 * Roost replaces): the same edge-case messages (no final line end, dot
 * lines, bare CR, bare LF in CRLF mail, the empty message) dropped into a
 * private Dovecot's Maildirs, one account each, and delivered to Roost.
 * Roost's bodies equal Dovecot's, except where Dovecot 2.3 breaks RFC 1939 §3:
 * it does not double a "." that starts the message's first line (a client
 * then drops that dot, and a message "." reads as an empty one), and it
 * sends an empty message as one empty line (2 octets where LIST said 0).
 * Roost doubles the dot and sends the empty message as the terminator
 * alone; everything else is byte-identical.
 *
 * Skips only when Dovecot is not installed (CI installs it).
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dovecotVersion, startDovecot } from '../../bench/compare/dovecot.js';
import { makeTempDir } from '../helpers/node.js';
import { startNode, type Pop3TestNode } from './helpers.js';
import { POP3_EDGE_MESSAGES } from '../helpers/messages.js';

const has = dovecotVersion() !== null;
type PrivateDovecot = Awaited<ReturnType<typeof startDovecot>>;

const MESSAGES = POP3_EDGE_MESSAGES;
const COMMANDS = ['RETR 1', 'TOP 1 0', 'TOP 1 1'];

/** Send the commands after login; return each multi-line reply's body (after its +OK line, up to and including the terminator). */
async function transcript(port: number, user: string, pass: string, commands: string[]): Promise<string> {
  const s = net.connect(port, '127.0.0.1');
  let buf = '';
  s.on('data', (d: Buffer) => (buf += d.toString('latin1')));
  s.write([`USER ${user}`, `PASS ${pass}`, ...commands, 'QUIT'].map((l) => `${l}\r\n`).join(''));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no close; have ${JSON.stringify(buf)}`)), 20_000);
    s.on('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
  return buf;
}

/** Each multi-line reply's body (after its +OK line, up to and including the terminator). */
async function bodies(port: number, user: string, pass: string, commands: string[]): Promise<string[]> {
  const buf = await transcript(port, user, pass, commands);
  // greeting, USER, PASS; then per command: +OK line, body to "\r\n.\r\n" or a leading ".\r\n".
  let rest = buf.split('\r\n').slice(3).join('\r\n');
  const out: string[] = [];
  for (let k = 0; k < commands.length; k++) {
    expect(rest.startsWith('+OK')).toBe(true);
    rest = rest.slice(rest.indexOf('\r\n') + 2);
    const end = rest.startsWith('.\r\n') ? 3 : rest.indexOf('\r\n.\r\n') + 5;
    out.push(rest.slice(0, end));
    rest = rest.slice(end);
  }
  return out;
}

describe.skipIf(!has)('RETR and TOP bytes beside Dovecot (RFC 1939 §3)', () => {
  let dir: string;
  let dv: PrivateDovecot;
  let node: Pop3TestNode;
  beforeAll(async () => {
    dir = await makeTempDir('roost-pop3-dovecot-');
    const mailRoot = path.join(dir, 'mail');
    for (const [i, m] of MESSAGES.entries()) {
      const md = path.join(mailRoot, `u${i}`, 'Maildir');
      for (const d of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(md, d), { recursive: true });
      fs.writeFileSync(path.join(md, 'new', '1700000000.M1P1.host'), Buffer.from(m, 'latin1'));
    }
    fs.mkdirSync(path.join(dir, 'dv'));
    dv = await startDovecot(path.join(dir, 'dv'), MESSAGES.map((_, i) => ({ name: `u${i}`, password: 'pw' })), { mailRoot });
    node = await startNode();
    await node.addUser('edge@example.org', 'secret');
    for (const m of MESSAGES) await node.deliver('edge@example.org', Buffer.from(m, 'latin1'));
  }, 60_000);
  afterAll(async () => {
    await node?.close();
    await dv?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('Roost sends what Dovecot sends, but doubles the first line\'s leading "." and sends the empty message empty', async () => {
    for (const [i, m] of MESSAGES.entries()) {
      if (m === '.') {
        // Dovecot's reply ends at once: ".\r\n" (the message, unstuffed) reads as the terminator, and the real one follows as junk.
        expect(await transcript(dv.ports.pop3, `u${i}`, 'pw', ['RETR 1'])).toContain('+OK 1 octets\r\n.\r\n.\r\n+OK Logging out');
        expect(await transcript(node.port, 'edge@example.org', 'secret', [`RETR ${i + 1}`])).toContain('+OK 1 octets\r\n..\r\n.\r\n+OK Logging out');
        continue;
      }
      const dovecot = await bodies(dv.ports.pop3, `u${i}`, 'pw', COMMANDS);
      const roost = await bodies(node.port, 'edge@example.org', 'secret', COMMANDS.map((c) => c.replace(' 1', ` ${i + 1}`)));
      for (const [k, c] of COMMANDS.entries()) {
        if (m === '') {
          // The empty message: Dovecot sends one empty line (2 octets where LIST said 0); Roost the terminator alone.
          expect(dovecot[k]).toBe('\r\n.\r\n');
          expect(roost[k]).toBe('.\r\n');
          continue;
        }
        const want = m.startsWith('.') ? `.${dovecot[k]!}` : dovecot[k]!;
        expect(roost[k], `${c} of ${JSON.stringify(m)}`).toBe(want);
      }
    }
  }, 60_000);
});
