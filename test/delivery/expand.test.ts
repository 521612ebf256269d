/**
 * The expansion step of final delivery (src/delivery/expand.ts) for accounts
 * read from a real slapd (qmail-ldap entries) and from the embedded
 * directory: Maildir copy or not, forward targets, and the RFC 3834 §2
 * vacation decision for each kind of incoming message.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import type { LdapDirectory } from '../../src/accounts/ldap.js';
import { openSqliteDirectory, type SqliteDirectory } from '../../src/accounts/sqlite.js';
import { expandMessage, expandRecipient } from '../../src/delivery/expand.js';
import { HeaderCapture, readReplyHeader } from '../../src/delivery/vacation/header.js';
import { Slapd, userLdif } from '../helpers/slapd.js';
import { makeDirectory } from '../ldap/fixtures.js';

const TEXT = 'Away until Monday.\n';
const ENTRIES = [
  userLdif('vac', {
    mail: 'vac@example.org',
    mailAlternateAddress: 'v.acation@example.net',
    mailMessageStore: 'vac/',
    deliveryMode: 'reply',
    mailReplyText: TEXT,
  }),
  userLdif('fwonly', { mail: 'fwonly@example.org', mailMessageStore: 'fo/', mailForwardingAddress: ['a@remote.example', 'b@remote.example'], deliveryMode: 'forwardonly' }),
  userLdif('both', { mail: 'both@example.org', mailMessageStore: 'bo/', mailForwardingAddress: ['A@Remote.Example', 'c@remote.example'], deliveryMode: ['reply'], mailReplyText: TEXT }),
  userLdif('plain', { mail: 'plain@example.org', mailMessageStore: 'pl/' }),
].join('');

let slapd: Slapd;
let ldap: LdapDirectory;
let embedded: SqliteDirectory;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'roost-expand-'));

beforeAll(async () => {
  slapd = await Slapd.create();
  await slapd.ldapadd(ENTRIES);
  ({ dir: ldap } = makeDirectory(slapd));
  embedded = openSqliteDirectory(root, path.join(root, 'mail'));
  await embedded.addUser({ address: 'emb@example.org' });
  await embedded.addAlias('alias@example.org', 'emb@example.org');
  await embedded.addForward('emb@example.org', 'emb@elsewhere.example');
  await embedded.setReplyText('emb@example.org', TEXT);
}, 60_000);
afterAll(async () => {
  await ldap?.close();
  await embedded?.close();
  await slapd?.destroy();
  fs.rmSync(root, { recursive: true, force: true });
});

async function account(d: LdapDirectory | SqliteDirectory, address: string): Promise<Account> {
  const r = await d.lookupRecipient(address);
  if (r.kind !== 'found') throw new Error(`${address}: ${JSON.stringify(r)}`);
  return r.account;
}

/** The header block of `msg` as delivery captures it, fed in 7-byte chunks. */
function header(msg: string) {
  const c = new HeaderCapture();
  const b = Buffer.from(msg.replace(/\r?\n/g, '\n'), 'utf8');
  for (let i = 0; i < b.length; i += 7) c.push(b.subarray(i, i + 7));
  return readReplyHeader(c.header());
}

const plainMessage = (to: string, extra = '') => header(`From: Bob <bob@sender.example>\nTo: Team <team@example.org>, ${to}\n${extra}Subject: hi\n\nbody\n`);

describe('expandRecipient', () => {
  it('LDAP reply: a reply to the envelope sender, from the address the message was sent to', async () => {
    const a = await account(ldap, 'v.acation@example.net');
    const e = expandRecipient(a, { recipient: 'V.Acation@example.net', sender: 'bob@sender.example', header: plainMessage('<v.acation@EXAMPLE.net>') });
    expect(e).toEqual({
      keepLocalCopy: true,
      forwardTargets: [],
      vacation: { send: true, plan: { to: 'bob@sender.example', from: 'V.Acation@example.net', text: TEXT } },
    });
    // The primary address in Cc counts too.
    const cc = header('From: bob@sender.example\nTo: someone@else.example\nCc: "Vac" <vac@example.org>\n\n');
    expect(expandRecipient(a, { recipient: 'v.acation@example.net', sender: 'bob@sender.example', header: cc }).vacation.send).toBe(true);
  });

  it('forwardonly: no local copy, every target; no reply without deliveryMode reply', async () => {
    const e = expandRecipient(await account(ldap, 'fwonly@example.org'), { recipient: 'fwonly@example.org', sender: 'bob@sender.example', header: plainMessage('fwonly@example.org') });
    expect(e).toEqual({ keepLocalCopy: false, forwardTargets: ['a@remote.example', 'b@remote.example'], vacation: { send: false, reason: 'off' } });
  });

  it('a plain account: the local copy only', async () => {
    const e = expandRecipient(await account(ldap, 'plain@example.org'), { recipient: 'plain@example.org', sender: 'bob@sender.example', header: plainMessage('plain@example.org') });
    expect(e).toEqual({ keepLocalCopy: true, forwardTargets: [], vacation: { send: false, reason: 'off' } });
  });

  it('embedded account reached through an alias: forward, local copy and reply', async () => {
    const a = await account(embedded, 'alias@example.org');
    const e = expandRecipient(a, { recipient: '<alias@example.org>', sender: '<bob@sender.example>', header: plainMessage('alias@example.org') });
    expect(e).toEqual({
      keepLocalCopy: true,
      forwardTargets: ['emb@elsewhere.example'],
      vacation: { send: true, plan: { to: 'bob@sender.example', from: 'alias@example.org', text: TEXT } },
    });
  });

  it('RFC 3834 §2 and qmail-reply: no reply to these', async () => {
    const a = await account(ldap, 'vac@example.org');
    const cases: [string, string, ReturnType<typeof header>][] = [
      ['null-sender', '', plainMessage('vac@example.org')],
      ['null-sender', '<>', plainMessage('vac@example.org')],
      ['null-sender', '#@[]', plainMessage('vac@example.org')],
      ['bad-sender', 'no-domain', plainMessage('vac@example.org')],
      ['automated-sender', 'MAILER-DAEMON@sender.example', plainMessage('vac@example.org')],
      ['automated-sender', 'postmaster@sender.example', plainMessage('vac@example.org')],
      ['automated-sender', 'list-request@sender.example', plainMessage('vac@example.org')],
      ['automated-sender', 'owner-list@sender.example', plainMessage('vac@example.org')],
      ['automated-sender', 'mail-daemon@sender.example', plainMessage('vac@example.org')],
      ['own-address', 'VAC@example.org', plainMessage('vac@example.org')],
      ['auto-submitted', 'bob@sender.example', plainMessage('vac@example.org', 'Auto-Submitted: auto-replied\n')],
      ['auto-submitted', 'bob@sender.example', plainMessage('vac@example.org', 'auto-submitted: Auto-Generated; owner-email="x@y"\n')],
      ['precedence', 'bob@sender.example', plainMessage('vac@example.org', 'Precedence: bulk\n')],
      ['precedence', 'bob@sender.example', plainMessage('vac@example.org', 'Precedence: LIST\n')],
      ['precedence', 'bob@sender.example', plainMessage('vac@example.org', 'Precedence: junk\n')],
      ['list', 'bob@sender.example', plainMessage('vac@example.org', 'List-Id: <team.lists.example>\n')],
      ['list', 'bob@sender.example', plainMessage('vac@example.org', 'List-Unsubscribe: <mailto:leave@lists.example>\n')],
      ['list', 'bob@sender.example', plainMessage('vac@example.org', 'Mailing-List: contact team-help@lists.example\n')],
      ['spam', 'bob@sender.example', plainMessage('vac@example.org', 'X-Spam-Status: Yes, score=12\n')],
      ['not-addressed', 'bob@sender.example', plainMessage('other@example.org')],
      ['not-addressed', 'bob@sender.example', header('From: bob@sender.example\nBcc: vac@example.org\n\n')],
    ];
    for (const [reason, sender, h] of cases) {
      expect(expandRecipient(a, { recipient: 'vac@example.org', sender, header: h }).vacation, `${reason} ${sender}`).toEqual({ send: false, reason });
    }
    // These still get one: Auto-Submitted: no, Precedence: first-class, a folded To.
    for (const extra of ['Auto-Submitted: no\n', 'Precedence: first-class\n']) {
      expect(expandRecipient(a, { recipient: 'vac@example.org', sender: 'bob@sender.example', header: plainMessage('vac@example.org', extra) }).vacation.send, extra).toBe(true);
    }
    const folded = header('From: bob@sender.example\nTo: a@b.example,\n\tVac <vac@example.org>\n\n');
    expect(expandRecipient(a, { recipient: 'vac@example.org', sender: 'bob@sender.example', header: folded }).vacation.send).toBe(true);
  });

  it('a header longer than the capture limit gets no reply (a List-Id may be past the cut)', async () => {
    const { LIMITS } = await import('../../src/limits.js');
    const a = await account(ldap, 'vac@example.org');
    const pad = (n: number) => `X-Pad: ${'p'.repeat(n)}\n`;
    const base = 'To: vac@example.org\n';
    // Header bytes up to and including the line end before the empty line: exactly at the limit is whole.
    const fits = base + pad(LIMITS.delivery.maxReplyHeaderBytes - base.length - 8);
    expect(Buffer.byteLength(fits)).toBe(LIMITS.delivery.maxReplyHeaderBytes);
    expect(expandRecipient(a, { recipient: 'vac@example.org', sender: 'bob@sender.example', header: header(`${fits}\nbody\n`) }).vacation.send).toBe(true);
    const over = base + pad(LIMITS.delivery.maxReplyHeaderBytes - base.length - 7);
    expect(expandRecipient(a, { recipient: 'vac@example.org', sender: 'bob@sender.example', header: header(`${over}\nbody\n`) }).vacation).toEqual({
      send: false,
      reason: 'header-incomplete',
    });
  });
});

describe('expandMessage', () => {
  it('several recipients: local copies per account, each forward target once, one reply per account', async () => {
    const both = await account(ldap, 'both@example.org');
    const fw = await account(ldap, 'fwonly@example.org');
    const vac = await account(ldap, 'vac@example.org');
    const h = plainMessage('both@example.org, vac@example.org, v.acation@example.net');
    const m = expandMessage(
      [
        { address: 'both@example.org', account: both },
        { address: 'fwonly@example.org', account: fw },
        { address: 'vac@example.org', account: vac },
        { address: 'v.acation@example.net', account: vac },
      ],
      'bob@sender.example',
      h,
    );
    expect(m.local.map((a) => a.id)).toEqual(['both@example.org', 'vac@example.org']);
    expect(m.forwards.map((g) => [g.recipient, g.account.id, g.targets])).toEqual([
      ['both@example.org', 'both@example.org', ['A@Remote.Example', 'c@remote.example']],
      ['fwonly@example.org', 'fwonly@example.org', ['a@remote.example', 'b@remote.example']],
    ]);
    expect(m.replies.map((r) => [r.account.id, r.plan.from])).toEqual([
      ['both@example.org', 'both@example.org'],
      ['vac@example.org', 'vac@example.org'],
    ]);
  });
});
