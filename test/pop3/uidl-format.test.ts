/**
 * POP3 UIDLs a migrated client already knows: pop3.uidl_format
 * "filename" (qmail-pop3d, Courier) or Dovecot's variables, per account from
 * the embedded directory, checked with Python's poplib against a node.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseUserOp } from '../../src/accounts/journaled.js';
import { entryToAccount } from '../../src/accounts/ldap-entry.js';
import { openSqliteDirectory, SqliteDirectory } from '../../src/accounts/sqlite.js';
import { compileUidlFormat, UidlFormatError } from '../../src/accounts/uidl-format.js';
import { buildConfig } from '../../src/config/load.js';
import { startTestNode, type TestNode } from '../helpers/node.js';

const run = promisify(execFile);
const BASE = '1276528487.M364837P9451.oldhost,S=38,W=40';

describe('uidl formats (pure)', () => {
  it("computes Dovecot's default %08Xu%08Xv: UID and UIDVALIDITY in 8 lower-case hex digits each", () => {
    const f = compileUidlFormat('%08Xu%08Xv');
    expect(f({ uid: 26, basename: BASE }, 0x4b0e7f3d)).toBe('0000001a4b0e7f3d');
    expect(f({ uid: 0xffffffff, basename: BASE }, 1)).toBe('ffffffff00000001');
  });

  it('expands %u, %v, %f, long forms, %%, width and case modifiers', () => {
    const m = { uid: 1234, basename: BASE };
    expect(compileUidlFormat('filename')(m, 99)).toBe(BASE);
    expect(compileUidlFormat('%f')(m, 99)).toBe(BASE);
    expect(compileUidlFormat('%u')(m, 99)).toBe('1234');
    expect(compileUidlFormat('%v.%u')(m, 99)).toBe('99.1234');
    expect(compileUidlFormat('%{uidvalidity}-%{uid}')(m, 99)).toBe('99-1234');
    expect(compileUidlFormat('%Xu%%')(m, 99)).toBe('4d2%');
    expect(compileUidlFormat('%10f')(m, 99)).toBe(BASE.slice(0, 10));
    expect(compileUidlFormat('%Uf')(m, 99)).toBe(BASE.toUpperCase());
  });

  it('refuses what it cannot compute or what would not be a unique-id', () => {
    for (const bad of ['%m', '%g', '%', '', '%v', 'a b%u', '%{md5}', '%{uid']) expect(() => compileUidlFormat(bad), bad).toThrow(UidlFormatError);
  });

  it('a bad pop3.uidl_format stops the start naming the key', () => {
    expect(() => buildConfig({ pop3: { uidl_format: '%m' } }, null)).toThrow(/pop3\.uidl_format/);
    expect(buildConfig({}, null).pop3.uidl_format).toBe('filename');
  });

  it('roost user uidl checks the format at the edge', () => {
    expect(parseUserOp({ op: 'uidl', address: 'a@example.org', format: '%08Xu%08Xv' })).toEqual({ op: 'uidl', address: 'a@example.org', format: '%08Xu%08Xv' });
    expect(parseUserOp({ op: 'uidl', address: 'a@example.org', format: '' })).toMatchObject({ format: '' });
    expect(() => parseUserOp({ op: 'uidl', address: 'a@example.org', format: '%m' })).toThrow(/uidl format/);
  });

  it('the per-account format travels with the account row (replication), and rows without it still apply', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'roost-uidl-'));
    const a = new SqliteDirectory(path.join(tmp, 'a.sqlite'), tmp);
    const b = new SqliteDirectory(path.join(tmp, 'b.sqlite'), tmp);
    try {
      await a.addUser({ address: 'dove@example.org' });
      await a.setUidlFormat('dove@example.org', '%08Xu%08Xv');
      const changes = a.currentState({ users: ['dove@example.org'] });
      b.applyChanges(changes, 1n);
      expect((await b.accountById('dove@example.org'))?.uidlFormat).toBe('%08Xu%08Xv');
      const old = changes.map((c) => {
        if (c.op !== 'user-put') return c;
        const { uidl_format: _gone, ...rest } = c.user;
        return { op: 'user-put' as const, user: { ...rest, address: 'old@example.org' } as typeof c.user };
      });
      b.applyChanges(old, 2n);
      expect((await b.accountById('old@example.org'))?.uidlFormat).toBeUndefined();
    } finally {
      await a.close();
      await b.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('uidl format from LDAP (directory.ldap.attr_uidl_format)', () => {
  const attrs = {
    mail: 'mail', alternate: 'mailAlternateAddress', uid: 'uid', password: 'userPassword', store: 'mailMessageStore', home: 'homeDirectory',
    quotaSize: 'mailQuotaSize', quotaCount: 'mailQuotaCount', sizeMax: 'mailSizeMax', status: 'accountStatus', host: 'mailHost',
    forwards: 'mailForwardingAddress', deliveryMode: 'deliveryMode', replyText: 'mailReplyText', program: 'deliveryProgramPath',
  };
  const policy = { base: '/var/mail/', allowedPrefixes: [], defaultQuotaBytes: 0, defaultQuotaMessages: 0 };
  const entry = { dn: 'uid=dove,dc=example', mail: ['dove@example.org'], uid: ['dove'], mailMessageStore: ['dove/Maildir/'], roostUidlFormat: ['%08Xu%08Xv'] };

  it('reads the named attribute into the account, and nothing when no attribute is configured', () => {
    const on = entryToAccount(entry, { ...policy, attrs: { ...attrs, uidlFormat: 'roostUidlFormat' } });
    expect(on.ok && on.account.uidlFormat).toBe('%08Xu%08Xv');
    const off = entryToAccount(entry, { ...policy, attrs });
    expect(off.ok && off.account.uidlFormat).toBeUndefined();
  });
});

const POPLIB = `
import json, poplib, sys
pop = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=20)
pop.user(sys.argv[2]); pop.pass_(sys.argv[3])
out = {'uidl': [l.decode() for l in pop.uidl()[1]], 'one': pop.uidl(2).decode(), 'list': [l.decode() for l in pop.list()[1]]}
pop.quit()
print(json.dumps(out))
`;

describe('UIDL over POP3 with Python poplib', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode({ pop3: { uidl_format: '%08Xu%08Xv' } });
    for (const u of ['dove', 'qmail']) {
      const acct = await t.addUser(`${u}@example.org`, 'pw-pw-pw');
      for (let i = 0; i < 3; i++) {
        const d = await t.ctx.store.createDraft();
        await d.write(Buffer.from(`Subject: m${i}\n\nbody ${i}\n`));
        await d.finish();
        await t.ctx.store.deliver([acct], d, { sender: 's@example.org' });
      }
    }
    // The per-account override: this user came from qmail-pop3d.
    const dir = openSqliteDirectory(t.config.paths.dataDir, t.config.paths.mailDir);
    try {
      await dir.setUidlFormat('qmail@example.org', 'filename');
    } finally {
      await dir.close();
    }
  });
  afterAll(async () => {
    await t.stop();
  });

  async function poplib(user: string): Promise<{ uidl: string[]; one: string; list: string[] }> {
    const { stdout } = await run('python3', ['-c', POPLIB, String(t.ports.pop3), user, 'pw-pw-pw'], { timeout: 30_000 });
    return JSON.parse(stdout) as { uidl: string[]; one: string; list: string[] };
  }

  async function records(user: string): Promise<{ uidvalidity: number; messages: { uid: number; basename: string }[] }> {
    const acct = (await t.ctx.directory.accountById(user))!;
    const box = await t.ctx.store.user(acct).openMailbox('INBOX', { readOnly: true });
    const s = box.snapshot();
    box.close();
    return { uidvalidity: s.uidvalidity, messages: s.messages.map((m) => ({ uid: m.uid, basename: m.basename })) };
  }

  it("answers Dovecot's %08Xu%08Xv from the config", async () => {
    const r = await poplib('dove@example.org');
    const s = await records('dove@example.org');
    const hex = (n: number) => n.toString(16).padStart(8, '0');
    expect(r.uidl).toEqual(s.messages.map((m, i) => `${i + 1} ${hex(m.uid)}${hex(s.uidvalidity)}`));
    expect(r.one).toBe(`+OK 2 ${hex(s.messages[1]!.uid)}${hex(s.uidvalidity)}`);
    expect(r.list.length).toBe(3);
  });

  it('answers the Maildir base names for an account set to "filename"', async () => {
    const r = await poplib('qmail@example.org');
    const s = await records('qmail@example.org');
    expect(r.uidl).toEqual(s.messages.map((m, i) => `${i + 1} ${m.basename}`));
  });
});
