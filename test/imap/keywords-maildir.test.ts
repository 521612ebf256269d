/**
 * Keywords set over IMAP (RFC 3501 §6.4.6 STORE, §2.3.2 keywords) land in
 * the Maildir the way Dovecot keeps them: each folder's
 * `dovecot-keywords` numbers them and the letters a–z after ":2," name
 * them, 26 at most (the 27th lives only in the index, as in Dovecot). An
 * index rebuilt from the Maildir alone reads them back intact.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compareNames } from '../../src/store/maildir/filename.js';
import { login, type RawImap } from './helpers/client.js';
import { message, startImapNode, type ImapTestNode } from './helpers/node.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { parseDovecotKeywords } from '../../src/store/maildir/keyword-letters.js';

let n: ImapTestNode | null = null;
let again: TestNode | null = null;
afterEach(async () => {
  await again?.stop();
  again = null;
  await n?.stop();
  n = null;
});

/** "uid → sorted flags" as FETCH answers them. */
async function flagsByUid(c: RawImap): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  for (const l of (await c.cmd('UID FETCH 1:* (FLAGS)')).untagged) {
    const m = /UID (\d+)/.exec(l);
    const f = /FLAGS \(([^)]*)\)/.exec(l);
    if (m && f) out.set(Number(m[1]), f[1]!.split(' ').filter((x) => x && x !== '\\Recent').sort());
  }
  return out;
}

/** cur/ in delivery order (the store's own order: seconds, then microseconds, numerically — M99999 before M100000). */
function curNames(dir: string): string[] {
  return fs.readdirSync(path.join(dir, 'cur')).sort(compareNames);
}

/** Wait (bounded) until every file in cur/ matches `ok` — the renames run in the background. */
async function namesSettle(dir: string, ok: (names: string[]) => boolean): Promise<string[]> {
  for (let i = 0; i < 200; i++) {
    const names = curNames(dir);
    if (ok(names)) return names;
    await new Promise((r) => setTimeout(r, 50));
  }
  return curNames(dir);
}

const letters = (name: string | undefined): string => (name === undefined ? '' : name.slice(name.indexOf(':2,') + 3));

/** Stop the node, remove its index and journal, start it again on the same data: the index is rebuilt from the Maildir. */
async function dropIndexAndRestart(node: ImapTestNode): Promise<TestNode> {
  const dataDir = node.t.dataDir;
  await node.t.stop({ keep: true });
  // The journal too: its records would replay the flags into the new index.
  fs.rmSync(path.join(dataDir, 'index'), { recursive: true, force: true });
  for (const f of fs.readdirSync(dataDir)) if (f.startsWith('journal.sqlite')) fs.rmSync(path.join(dataDir, f));
  return startTestNode({}, { dataDir });
}

describe('keywords written to the Maildir as Dovecot does', () => {
  it('STORE +FLAGS/-FLAGS maintains dovecot-keywords and the letters; a rebuilt index keeps them', async () => {
    n = await startImapNode();
    await n.deliver([message(1), message(2), message(3)]);
    const dir = n.account.maildir;
    const c = await login(n.port, n.user, n.pass);
    await c.cmd('SELECT INBOX');
    expect((await c.cmd('UID STORE 1 +FLAGS ($Forwarded $Label1 \\Seen)')).tagged).toMatch(/OK/);
    expect((await c.cmd('UID STORE 2 +FLAGS ($Junk)')).tagged).toMatch(/OK/);
    expect((await c.cmd('UID STORE 3 +FLAGS ($Label1 \\Flagged)')).tagged).toMatch(/OK/);
    // System flags (A–Z) sort before keyword letters (a–z).
    expect((await namesSettle(dir, (ns) => ns.map(letters).join(' ') === 'Sab c Fb')).map(letters)).toEqual(['Sab', 'c', 'Fb']);
    const table = parseDovecotKeywords(fs.readFileSync(path.join(dir, 'dovecot-keywords'), 'utf8'));
    expect(table).toEqual(['$Forwarded', '$Label1', '$Junk']);
    // Removing a keyword removes its letter; the file keeps its index (Dovecot never renumbers).
    expect((await c.cmd('UID STORE 1 -FLAGS ($Forwarded)')).tagged).toMatch(/OK/);
    expect((await namesSettle(dir, (ns) => letters(ns[0]!) === 'Sb')).map(letters)).toEqual(['Sb', 'c', 'Fb']);
    expect(parseDovecotKeywords(fs.readFileSync(path.join(dir, 'dovecot-keywords'), 'utf8'))).toEqual(table);
    const before = await flagsByUid(c);
    await c.cmd('LOGOUT');
    c.close();

    again = await dropIndexAndRestart(n);
    const d = await login(again.ports.imap!, n.user, n.pass);
    await d.cmd('SELECT INBOX');
    expect(await flagsByUid(d)).toEqual(before);
    d.close();
  });

  it('26 keywords get letters a–z; the 27th lives only in the index', async () => {
    n = await startImapNode();
    await n.deliver([message(1)]);
    const dir = n.account.maildir;
    const c = await login(n.port, n.user, n.pass);
    await c.cmd('SELECT INBOX');
    const kw = Array.from({ length: 27 }, (_, i) => `$K${i}`);
    // N = 26: every keyword has a letter.
    expect((await c.cmd(`UID STORE 1 +FLAGS (${kw.slice(0, 26).join(' ')})`)).tagged).toMatch(/OK/);
    const all = 'abcdefghijklmnopqrstuvwxyz';
    expect((await namesSettle(dir, (ns) => letters(ns[0]!) === all)).map(letters)).toEqual([all]);
    expect(parseDovecotKeywords(fs.readFileSync(path.join(dir, 'dovecot-keywords'), 'utf8'))).toEqual(kw.slice(0, 26).sort());
    // N + 1: the 27th is kept (FETCH shows it) but has no letter and no line in the file.
    expect((await c.cmd('UID STORE 1 +FLAGS ($K26)')).tagged).toMatch(/OK/);
    expect((await flagsByUid(c)).get(1)).toEqual([...kw].sort());
    expect(fs.readFileSync(path.join(dir, 'dovecot-keywords'), 'utf8')).not.toContain('$K26');
    expect(curNames(dir).map(letters)).toEqual([all]);
    c.close();

    // Rebuilt from the Maildir alone, the 26 lettered keywords come back (as Dovecot would see them).
    again = await dropIndexAndRestart(n);
    const d = await login(again.ports.imap!, n.user, n.pass);
    await d.cmd('SELECT INBOX');
    expect((await flagsByUid(d)).get(1)).toEqual(kw.slice(0, 26).sort());
    d.close();
  });

  it('APPEND and COPY with keywords name the file with the target folder\'s letters', async () => {
    n = await startImapNode();
    const c = await login(n.port, n.user, n.pass);
    expect((await c.cmd('CREATE Other')).tagged).toMatch(/OK/);
    const body = message(9);
    c.write(`a1 APPEND INBOX ($Junk \\Seen) {${Buffer.byteLength(body)}+}\r\n${body}\r\n`);
    expect((await c.until('a1')).tagged).toMatch(/OK/);
    const inbox = n.account.maildir;
    expect(curNames(inbox).map(letters)).toEqual(['Sa']);
    expect(fs.readFileSync(path.join(inbox, 'dovecot-keywords'), 'utf8')).toBe('0 $Junk\n');
    // Other already numbers $Label2 first, so $Junk is b there.
    const other = path.join(inbox, '.Other');
    await c.cmd('SELECT Other');
    c.write(`a2 APPEND Other ($Label2) {${Buffer.byteLength(body)}+}\r\n${body}\r\n`);
    expect((await c.until('a2')).tagged).toMatch(/OK/);
    await c.cmd('SELECT INBOX');
    expect((await c.cmd('COPY 1 Other')).tagged).toMatch(/OK/);
    expect(curNames(other).map(letters).sort()).toEqual(['Sb', 'a']);
    expect(fs.readFileSync(path.join(other, 'dovecot-keywords'), 'utf8')).toBe('0 $Label2\n1 $Junk\n');
    c.close();
  });
});
