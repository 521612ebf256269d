/**
 * "%" and "*" in mailbox names: CREATE and RENAME accept them as
 * Dovecot does (RFC 3501 §5.1 discourages, does not forbid), the names come
 * back quoted, and LIST still reads them as wildcards in a pattern (§6.3.8).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;
let c: RawImap;

beforeAll(async () => {
  n = await startImapNode();
  c = await login(n.port, n.user, n.pass);
});
afterAll(async () => {
  c?.close();
  await n?.stop();
});

describe('mailbox names with list wildcards', () => {
  it('CREATE and RENAME take them; the Maildir++ directory carries them as they are', async () => {
    expect((await c.cmd('CREATE "Percent 50%"')).tagged).toMatch(/^a\d+ OK/);
    expect((await c.cmd('CREATE "Star*"')).tagged).toMatch(/^a\d+ OK/);
    expect(existsSync(path.join(n.account.maildir, '.Percent 50%', 'cur'))).toBe(true);
    expect((await c.cmd('RENAME "Star*" "A*b%c"')).tagged).toMatch(/^a\d+ OK/);
    expect(existsSync(path.join(n.account.maildir, '.A*b%c'))).toBe(true);
    const st = await c.cmd('STATUS "A*b%c" (MESSAGES)');
    expect(st.untagged).toEqual(['* STATUS "A*b%c" (MESSAGES 0)']);
    const msg = 'Subject: x\r\n\r\nx';
    expect((await c.cmd(`APPEND "Percent 50%" {${msg.length}+}\r\n${msg}`)).tagged).toMatch(/^a\d+ OK/);
    expect((await c.cmd('SELECT "Percent 50%"')).untagged).toContain('* 1 EXISTS');
  });

  it('LIST shows them quoted and still treats % and * in the pattern as wildcards', async () => {
    const all = (await c.cmd('LIST "" *')).untagged;
    expect(all).toContain('* LIST (\\HasNoChildren) "." "Percent 50%"');
    expect(all).toContain('* LIST (\\HasNoChildren) "." "A*b%c"');
    // "Percent%" is a pattern: it matches "Percent 50%" (and would match "Percent 10" too).
    expect((await c.cmd('LIST "" "Percent%"')).untagged).toEqual(['* LIST (\\HasNoChildren) "." "Percent 50%"']);
    expect((await c.cmd('LIST "" "A%c"')).untagged).toEqual(['* LIST (\\HasNoChildren) "." "A*b%c"']);
  });

  it('still refuses names that could leave the Maildir', async () => {
    for (const bad of ['"a/b%"', '"x*/.."', '"%..%"']) expect((await c.cmd(`CREATE ${bad}`)).tagged).toMatch(/^a\d+ NO/);
  });
});
