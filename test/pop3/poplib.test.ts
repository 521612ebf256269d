/** Python's poplib as a real client: plain, STLS and implicit TLS. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode, type Pop3TestNode } from './helpers.js';

const run = promisify(execFile);
const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'clients', 'poplib_client.py');

const MESSAGES = [
  'From: a@example.org\nSubject: lf\n\nline\n.leading dot\nlast\n',
  'From: b@example.org\r\nSubject: crlf\r\n\r\nline\r\n.\r\n..\r\nend\r\n',
  'From: c@example.org\nSubject: open end\n\nno final newline',
];
/** What poplib returns for a message: lines joined with CRLF, dot-unstuffed, no final line end. */
const asLines = (m: string): string => m.replace(/\r?\n/g, '\r\n').replace(/\r\n$/, '');
const vsize = (m: string): number => Buffer.byteLength(m.replace(/\r?\n/g, '\r\n'));

interface PoplibResult {
  welcome: string;
  capa_before: string[];
  stls?: string;
  capa_after_stls?: string[];
  pass: string;
  stat: [number, number];
  list: string[];
  uidl: string[];
  retr: { n: number; listed: number; resp: string; octets: number; text: string }[];
  top: string[];
  dele: string;
  stat_after_dele: [number, number];
  quit: string;
}

describe('Python poplib', () => {
  let node: Pop3TestNode;
  beforeAll(async () => {
    node = await startNode({ allowPlaintext: 'loopback' });
    for (const mode of ['plain', 'stls', 'ssl']) {
      await node.addUser(`${mode}@example.org`, `pw-${mode}`);
      for (const m of MESSAGES) await node.deliver(`${mode}@example.org`, m);
    }
  });
  afterAll(async () => {
    await node.close();
  });

  for (const mode of ['plain', 'stls', 'ssl'] as const) {
    it(`${mode}: login, stat, list, uidl, retr, top, dele, quit`, async () => {
      const account = node.accounts.get(`${mode}@example.org`)!;
      const box = await node.store.user(account).openMailbox('INBOX', { readOnly: true });
      const names = box.snapshot().messages.map((m) => m.basename);
      box.close();
      const port = mode === 'ssl' ? node.tlsPort : node.port;
      const { stdout } = await run('python3', [script, String(port), mode, `${mode}@example.org`, `pw-${mode}`], { timeout: 30_000 });
      const r = JSON.parse(stdout) as PoplibResult;
      expect(r.welcome).toMatch(/^\+OK/);
      expect(r.capa_before).toEqual(expect.arrayContaining(['TOP', 'UIDL', 'PIPELINING', 'RESP-CODES', 'USER']));
      if (mode === 'stls') {
        expect(r.capa_before).toContain('STLS');
        expect(r.stls).toMatch(/^\+OK/);
        expect(r.capa_after_stls).not.toContain('STLS');
      }
      if (mode === 'ssl') expect(r.capa_before).not.toContain('STLS');
      expect(r.pass).toMatch(/^\+OK Logged in, 3 messages/);
      const sizes = MESSAGES.map(vsize);
      expect(r.stat).toEqual([3, sizes.reduce((a, b) => a + b, 0)]);
      expect(r.list).toEqual(sizes.map((s, i) => `${i + 1} ${s}`));
      expect(r.uidl).toEqual(names.map((b, i) => `${i + 1} ${b}`));

      for (const [i, m] of MESSAGES.entries()) {
        const got = r.retr[i]!;
        expect(got.resp).toBe(`+OK ${sizes[i]} octets`);
        expect(got.text).toBe(asLines(m));
        // poplib counts each line plus CRLF, stuffed dots removed: = the LIST size, plus the
        // CRLF that ends the terminator when the stored message has no final line end
        expect(got.octets).toBe(m.endsWith('\n') ? got.listed : got.listed + 2);
      }
      expect(r.top).toEqual(asLines(MESSAGES[0]!).split('\r\n').slice(0, 4));
      expect(r.dele).toMatch(/^\+OK/);
      expect(r.stat_after_dele[0]).toBe(2);
      expect(r.quit).toMatch(/^\+OK Logging out, 1 messages deleted/);

      const after = await node.store.user(account).openMailbox('INBOX', { readOnly: true });
      expect(after.snapshot().messages.map((m) => m.basename)).toEqual(names.slice(1));
      after.close();
    });
  }
});
