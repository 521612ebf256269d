/**
 * The structure of an APPENDed message is the one the streaming parser built
 * while the literal arrived; in a MULTIAPPEND past
 * LIMITS.imap.appendOpenDrafts the waiting drafts are parked (bytes on disk
 * only) and their structure is parsed from the spool file at commit. Either
 * way BODYSTRUCTURE, ENVELOPE and BINARY.SIZE match what the whole-buffer
 * parser gives for the same bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { parseMessage } from '../../src/store/mime/parse.js';
import { renderBodyStructure } from '../../src/imap/message/bodystructure.js';
import { login, type RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;
let c: RawImap;

function message(i: number): Buffer {
  const body = Buffer.from(`attachment ${i} `.repeat(20 + i)).toString('base64').replace(/(.{57})/g, '$1\r\n');
  return Buffer.from(
    [
      `From: "Sender ${i}" <s${i}@example.org>`,
      `Subject: =?utf-8?q?n=C2=B0_${i}?=`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/mixed; boundary="outer-${i}"`,
      '',
      'preamble',
      `--outer-${i}`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      `text part of ${i}\r\nsecond line`,
      `--outer-${i}`,
      'Content-Type: application/octet-stream; name="a.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      body,
      `--outer-${i}`,
      'Content-Type: message/rfc822',
      '',
      `Subject: inner ${i}\r\nFrom: x@example.org\r\n\r\ninner body\r\n`,
      `--outer-${i}--`,
      '',
    ].join('\r\n'),
  );
}

beforeAll(async () => {
  n = await startImapNode();
  c = await login(n.port, n.user, n.pass);
  await c.cmd('SELECT INBOX');
}, 60_000);
afterAll(async () => {
  c?.close();
  await n?.stop();
});

describe('APPEND structure built while streaming', () => {
  it(`MULTIAPPEND of ${LIMITS.imap.appendOpenDrafts + 4} messages: open and parked drafts alike`, async () => {
    const count = LIMITS.imap.appendOpenDrafts + 4;
    const msgs = Array.from({ length: count }, (_v, i) => message(i));
    c.write('m APPEND INBOX');
    for (const m of msgs) {
      c.write(` {${m.length}+}\r\n`);
      c.write(m);
    }
    c.write('\r\n');
    const r = await c.until('m');
    expect(r.tagged).toMatch(/^m OK/);
    const f = await c.cmd('FETCH 1:* (BODYSTRUCTURE ENVELOPE RFC822.SIZE)');
    const lines = f.untagged.filter((l) => / FETCH /.test(l));
    expect(lines.length).toBe(count);
    lines.forEach((l, i) => {
      const tree = parseMessage(msgs[i]!);
      expect(l, `message ${i + 1}`).toContain(`BODYSTRUCTURE ${renderBodyStructure(tree, true)}`);
      expect(l, `message ${i + 1}`).toContain(`RFC822.SIZE ${tree.vSize}`);
      expect(l, `message ${i + 1}`).toContain(`ENVELOPE ${tree.envelope}`);
    });
  });
});
