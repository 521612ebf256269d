/**
 * CREATE and RENAME of names whose Maildir++ directory (".A.B" in modified
 * UTF-7, one file name for the whole hierarchy) would not fit in NAME_MAX:
 * refused with NO [LIMIT] before any directory is made.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';
import { LIMITS } from '../../src/limits.js';
import { encodeMailboxName } from '../../src/text/mutf7.js';

let n: ImapTestNode;
let c: RawImap;
const MAX = LIMITS.store.maxFolderDirNameBytes;

beforeAll(async () => {
  n = await startImapNode();
  c = await login(n.port, n.user, n.pass);
});
afterAll(async () => {
  c?.close();
  await n?.stop();
});

const quoted = (name: string): string => `"${encodeMailboxName(name)}"`;

describe('folder directory names longer than NAME_MAX', () => {
  it(`CREATE takes a name whose directory has ${MAX} bytes and refuses ${MAX + 1}`, async () => {
    // The directory is "." + the name.
    const fits = 'A'.repeat(MAX - 1);
    const over = 'A'.repeat(MAX);
    expect((await c.cmd(`CREATE ${quoted(fits)}`)).tagged).toMatch(/^a\d+ OK/);
    expect(existsSync(path.join(n.account.maildir, `.${fits}`))).toBe(true);
    expect((await c.cmd(`CREATE ${quoted(over)}`)).tagged).toMatch(/^a\d+ NO \[LIMIT\]/);
    expect(existsSync(path.join(n.account.maildir, `.${over}`))).toBe(false);
    const list = await c.cmd('LIST "" AAA*');
    expect(list.untagged).toEqual([`* LIST (\\HasNoChildren) "." ${fits}`]);
  });

  it('counts the modified UTF-7 bytes, not the characters (emoji)', async () => {
    // 47 emoji: "." + "&" + 251 base64 characters + "-" = 254 bytes; 48 give 259; 60 give 323.
    const emoji = (k: number): string => '\u{1F600}'.repeat(k);
    expect(1 + encodeMailboxName(emoji(47)).length).toBe(254);
    expect((await c.cmd(`CREATE ${quoted(emoji(47))}`)).tagged).toMatch(/^a\d+ OK/);
    expect((await c.cmd(`CREATE ${quoted(emoji(48))}`)).tagged).toMatch(/^a\d+ NO \[LIMIT\]/);
    expect((await c.cmd(`CREATE ${quoted(emoji(60))}`)).tagged).toMatch(/^a\d+ NO \[LIMIT\]/);
    // The session and the account are fine afterwards.
    expect((await c.cmd('CREATE Fine')).tagged).toMatch(/OK/);
  });

  it(`RENAME checks every renamed directory, children included, at ${MAX} and ${MAX + 1} bytes`, async () => {
    expect((await c.cmd('CREATE P')).tagged).toMatch(/OK/);
    expect((await c.cmd('CREATE P.c')).tagged).toMatch(/OK/);
    // ".B…B.c": the child's directory is the longest; 2 + k + 2 bytes.
    const fits = 'B'.repeat(MAX - 3);
    const over = 'B'.repeat(MAX - 2);
    expect((await c.cmd(`RENAME P ${quoted(over)}`)).tagged).toMatch(/^a\d+ NO \[LIMIT\]/);
    expect((await c.cmd('LIST "" P*')).untagged).toEqual(['* LIST (\\HasChildren) "." P', '* LIST (\\HasNoChildren) "." P.c']);
    expect((await c.cmd(`RENAME P ${quoted(fits)}`)).tagged).toMatch(/^a\d+ OK/);
    expect(existsSync(path.join(n.account.maildir, `.${fits}.c`))).toBe(true);
    expect((await c.cmd(`RENAME Fine ${quoted('C'.repeat(MAX))}`)).tagged).toMatch(/^a\d+ NO \[LIMIT\]/);
  });
});
