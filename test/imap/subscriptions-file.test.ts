/**
 * The subscription list is kept in the Maildir in the form Dovecot 2.3
 * reads: `subscriptions` with "V<TAB>2", an empty line, and
 * one name a line with TAB between hierarchy levels, rewritten on SUBSCRIBE,
 * UNSUBSCRIBE (RFC 3501 §6.3.6, §6.3.7) and RENAME (§6.3.5), and read back
 * by the import parser as the same list.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';
import { parseDovecotSubscriptions } from '../../src/store/maildir/subscriptions.js';

let n: ImapTestNode;
beforeAll(async () => {
  n = await startImapNode();
});
afterAll(async () => {
  await n?.stop();
});

const file = (): string => fs.readFileSync(path.join(n.account.maildir, 'subscriptions'), 'utf8');

describe('Dovecot subscriptions file', () => {
  it('follows SUBSCRIBE, UNSUBSCRIBE and RENAME', async () => {
    const c = await login(n.port, n.user, n.pass);
    for (const m of ['Work', 'Work.2024', '"Per% 50"', 'Old']) expect((await c.cmd(`CREATE ${m}`)).tagged).toMatch(/OK/);
    for (const m of ['INBOX', 'Work.2024', '"Per% 50"', 'Old']) expect((await c.cmd(`SUBSCRIBE ${m}`)).tagged).toMatch(/OK/);
    const lsub = async (): Promise<string[]> =>
      (await c.cmd('LSUB "" "*"')).untagged.map((l) => l.replace(/^\* LSUB \([^)]*\) "\." /, '').replace(/"/g, '')).sort();
    expect(file().startsWith('V\t2\n\n')).toBe(true);
    expect(file().split('\n')).toEqual(expect.arrayContaining(['INBOX', 'Old', 'Per% 50', 'Work\t2024']));
    expect(file().split('\n')).not.toContain('Work');
    expect(parseDovecotSubscriptions(file()).sort()).toEqual(await lsub());
    expect((await c.cmd('UNSUBSCRIBE "Per% 50"')).tagged).toMatch(/OK/);
    expect((await c.cmd('RENAME Old New')).tagged).toMatch(/OK/);
    expect(file().split('\n')).toEqual(expect.arrayContaining(['INBOX', 'New', 'Work\t2024']));
    expect(file().split('\n')).not.toContain('Old');
    expect(file().split('\n')).not.toContain('Per% 50');
    expect(parseDovecotSubscriptions(file()).sort()).toEqual(await lsub());
    // DELETE keeps the subscription (RFC 3501 §6.3.6), and so does the file.
    expect((await c.cmd('DELETE New')).tagged).toMatch(/OK/);
    expect(parseDovecotSubscriptions(file())).toContain('New');
    expect(parseDovecotSubscriptions(file()).sort()).toEqual(await lsub());
    c.close();
  });

  it('holds the special-use folders when the first LOGIN answers, each folder a whole Maildir++ folder on disk', async () => {
    const acct = await n.t.addUser('first@example.org', 'first-pw');
    const c = await login(n.port, 'first@example.org', 'first-pw');
    const names = parseDovecotSubscriptions(fs.readFileSync(path.join(acct.maildir, 'subscriptions'), 'utf8'));
    expect(names.sort()).toEqual(['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
    for (const f of names.filter((x) => x !== 'INBOX')) {
      for (const sub of ['cur', 'new', 'tmp']) expect(fs.statSync(path.join(acct.maildir, `.${f}`, sub)).isDirectory()).toBe(true);
      expect(fs.existsSync(path.join(acct.maildir, `.${f}`, 'maildirfolder'))).toBe(true);
    }
    c.close();
  });

  it('after a pipelined burst of SUBSCRIBE and UNSUBSCRIBE holds the last list', async () => {
    const c = await login(n.port, n.user, n.pass);
    expect((await c.cmd('CREATE Burst')).tagged).toMatch(/OK/);
    const tags: string[] = [];
    for (let i = 0; i < 9; i++) {
      tags.push(`b${i}`);
      c.write(`b${i} ${i % 2 === 0 ? 'SUBSCRIBE' : 'UNSUBSCRIBE'} Burst\r\n`);
    }
    for (const t of tags) expect((await c.until(t)).tagged).toMatch(/OK/);
    // Nine changes, the last a SUBSCRIBE.
    expect(parseDovecotSubscriptions(file())).toContain('Burst');
    expect((await c.cmd('UNSUBSCRIBE Burst')).tagged).toMatch(/OK/);
    expect(parseDovecotSubscriptions(file())).not.toContain('Burst');
    c.close();
  });
});
