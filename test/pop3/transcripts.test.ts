/**
 * Protocol transcripts (test/pop3/transcripts/*.t) over raw sockets.
 *
 *   C: line         client sends a line
 *   P: line         queued; all consecutive P: lines go out in ONE write (pipelining)
 *   S: text         server line; "*" matches any run of characters
 *   S~ /regex/      server line matching a regular expression
 *   SESSION name    switch to (and open, if new) another connection
 *   DROP            client drops the connection without QUIT
 *   CLOSED          the server closes the connection
 *   TLS             client starts TLS (after "+OK" to STLS)
 *   LOGIN user pass  USER user (expects +OK), then PASS pass; the next S: line is PASS's answer
 *   # ...           comment
 * ${V1} ${V2} ${V3} ${TOTAL} expand to the fixture messages' CRLF sizes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RawClient } from '../helpers/pop3-client.js';
import { startNode, type Pop3TestNode } from './helpers.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'transcripts');

export const FIXTURE = [
  // LF line ends, dot lines
  'From: a@example.org\nTo: alice@example.org\nSubject: one\n\nHello\n.dot line\n..two dots\n.\nbye\n',
  // CRLF line ends
  'From: b@example.org\r\nSubject: two\r\n\r\nline1\r\nline2\r\nline3\r\n',
  // no line end after the last line
  'From: c@example.org\nSubject: three\n\nno newline at end',
];
const crlfSize = (m: string): number => Buffer.byteLength(m.replace(/\r?\n/g, '\r\n'));

function globToRegex(pattern: string): RegExp {
  return new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
}

describe('POP3 transcripts', () => {
  let node: Pop3TestNode;
  beforeEach(async () => {
    node = await startNode({ allowPlaintext: 'loopback' });
    await node.addUser('alice@example.org', 'secret');
    await node.addUser('bob@example.org', 'bob pw with spaces');
    await node.addUser('carl@example.org', 'carlpw', 'disabled');
    for (const m of FIXTURE) await node.deliver('alice@example.org', m);
  });
  afterEach(async () => {
    await node.close();
  });

  const vars: Record<string, string> = {
    V1: String(crlfSize(FIXTURE[0]!)),
    V2: String(crlfSize(FIXTURE[1]!)),
    V3: String(crlfSize(FIXTURE[2]!)),
    V23: String(crlfSize(FIXTURE[1]!) + crlfSize(FIXTURE[2]!)),
    TOTAL: String(FIXTURE.reduce((n, m) => n + crlfSize(m), 0)),
  };

  for (const file of readdirSync(dir).filter((f) => f.endsWith('.t')).sort()) {
    it(file, async () => {
      const lines = readFileSync(path.join(dir, file), 'utf8').split('\n');
      const sessions = new Map<string, RawClient>();
      let current = await RawClient.connect(node.port);
      sessions.set('default', current);
      let queued: string[] = [];
      const flush = (): void => {
        if (queued.length) current.socket.write(queued.map((l) => l + '\r\n').join(''));
        queued = [];
      };
      try {
        for (const [i, raw] of lines.entries()) {
          const where = `${file}:${i + 1}`;
          // "C:" / "S:" alone stand for an empty line (editors strip trailing spaces).
          const line = (raw === 'C:' || raw === 'S:' ? raw + ' ' : raw).replace(/\$\{(\w+)\}/g, (_, v: string) => vars[v] ?? `\${${v}}`);
          if (line === '' || line.startsWith('#')) continue;
          if (line.startsWith('P: ')) {
            queued.push(line.slice(3));
            continue;
          }
          flush();
          if (line.startsWith('C: ')) current.send(line.slice(3));
          else if (line.startsWith('S: ')) {
            const got = await current.line();
            expect(got, where).toMatch(globToRegex(line.slice(3)));
          } else if (line.startsWith('S~ ')) {
            const got = await current.line();
            expect(got, where).toMatch(new RegExp(line.slice(3).replace(/^\/|\/$/g, '')));
          } else if (line.startsWith('SESSION ')) {
            const name = line.slice(8).trim();
            let s = sessions.get(name);
            if (!s) {
              s = await RawClient.connect(node.port);
              sessions.set(name, s);
            }
            current = s;
          } else if (line === 'DROP') {
            current.destroy();
            // let the server notice before the next step
            await new Promise((r) => setTimeout(r, 100));
          } else if (line === 'CLOSED') {
            await current.waitClosed();
          } else if (line === 'TLS') {
            await current.startTls();
          } else if (line.startsWith('LOGIN ')) {
            const [user, ...pass] = line.slice(6).split(' ');
            current.send(`USER ${user}`);
            expect(await current.line(), where).toBe('+OK');
            current.send(`PASS ${pass.join(' ')}`);
          } else throw new Error(`${where}: bad transcript line ${JSON.stringify(raw)}`);
        }
      } finally {
        for (const s of sessions.values()) s.destroy();
      }
    });
  }
});
