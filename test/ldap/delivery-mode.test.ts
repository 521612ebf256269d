/**
 * qmail-ldap's mailForwardingAddress, deliveryMode, mailReplyText and
 * deliveryProgramPath read from a real slapd into Account.delivery, with
 * qmail-local's meaning of each deliveryMode value (qmail-ldap's QLDAPINSTALL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LdapDirectory } from '../../src/accounts/ldap.js';
import { LIMITS } from '../../src/limits.js';
import { Slapd, userLdif } from '../helpers/slapd.js';
import { makeDirectory, type Captured } from './fixtures.js';

const REPLY = 'I am away until Monday.\nYour mail about "%SUBJECT%" will be read then.\n';

/** n distinct forwarding addresses. */
const targets = (n: number): string[] => Array.from({ length: n }, (_, i) => `t${i}@remote.example`);

const ENTRIES = [
  userLdif('fw', { mail: 'fw@example.org', mailMessageStore: 'fw/', mailForwardingAddress: ['one@remote.example', 'Two@Remote.Example'] }),
  userLdif('nolocal', { mail: 'nolocal@example.org', mailMessageStore: 'nl/', mailForwardingAddress: 'x@remote.example', deliveryMode: 'nolocal' }),
  userLdif('nombox', { mail: 'nombox@example.org', mailMessageStore: 'nm/', mailForwardingAddress: 'x@remote.example', deliveryMode: 'NoMbox' }),
  userLdif('fonly', { mail: 'fonly@example.org', mailMessageStore: 'fo/', mailForwardingAddress: 'x@remote.example', deliveryMode: 'forwardonly' }),
  userLdif('nofw', { mail: 'nofw@example.org', mailMessageStore: 'nf/', mailForwardingAddress: 'x@remote.example', deliveryMode: 'noforward' }),
  userLdif('noprog', { mail: 'noprog@example.org', mailMessageStore: 'np/', deliveryMode: 'noprogram', deliveryProgramPath: '/usr/bin/procmail' }),
  userLdif('prog', { mail: 'prog@example.org', mailMessageStore: 'pg/', deliveryProgramPath: '/usr/bin/procmail' }),
  userLdif('reply', { mail: 'reply@example.org', mailMessageStore: 're/', deliveryMode: 'reply', mailReplyText: REPLY }),
  userLdif('textonly', { mail: 'textonly@example.org', mailMessageStore: 'to/', mailReplyText: REPLY }),
  userLdif('replynotext', { mail: 'replynotext@example.org', mailMessageStore: 'rn/', deliveryMode: 'reply' }),
  userLdif('many', {
    mail: 'many@example.org',
    mailMessageStore: 'ma/',
    mailForwardingAddress: 'x@remote.example',
    deliveryMode: ['reply', 'nolocal', 'local', 'forward', 'program', 'noreply', 'normal'],
    mailReplyText: REPLY,
  }),
  userLdif('odd', { mail: 'oddmode@example.org', mailMessageStore: 'om/', deliveryMode: ['echo', 'vacation'] }),
  userLdif('fwmax', { mail: 'fwmax@example.org', mailMessageStore: 'fx/', mailForwardingAddress: targets(LIMITS.delivery.maxForwards) }),
  userLdif('fwover', { mail: 'fwover@example.org', mailMessageStore: 'fy/', mailForwardingAddress: targets(LIMITS.delivery.maxForwards + 1) }),
  userLdif('fwovernf', { mail: 'fwovernf@example.org', mailMessageStore: 'fz/', mailForwardingAddress: targets(LIMITS.delivery.maxForwards + 1), deliveryMode: 'noforward' }),
  userLdif('badfw', { mail: 'badfw@example.org', mailMessageStore: 'bf/', mailForwardingAddress: 'no-domain', deliveryMode: 'nolocal' }),
].join('');

let slapd: Slapd;
let dir: LdapDirectory;
let captured: Captured;

beforeAll(async () => {
  slapd = await Slapd.create();
  await slapd.ldapadd(ENTRIES);
  ({ dir, captured } = makeDirectory(slapd, { cache_ttl_ms: 0, negative_cache_ttl_ms: 0 }));
}, 60_000);
afterAll(async () => {
  await dir?.close();
  await slapd?.destroy();
});

const account = async (addr: string) => {
  const r = await dir.lookupRecipient(addr);
  if (r.kind !== 'found') throw new Error(`${addr}: ${JSON.stringify(r)}`);
  return r.account;
};

describe('deliveryMode and mailForwardingAddress (qmail-local semantics)', () => {
  it('no deliveryMode: the Maildir copy and every forward (de-duplicated, case kept)', async () => {
    expect((await account('fw@example.org')).delivery).toEqual({ local: true, forwards: ['one@remote.example', 'Two@Remote.Example'] });
  });

  it('nolocal, nombox (any case) and forwardonly: forwards only, no Maildir copy', async () => {
    for (const a of ['nolocal', 'nombox', 'fonly']) {
      expect((await account(`${a}@example.org`)).delivery, a).toEqual({ local: false, forwards: ['x@remote.example'] });
    }
  });

  it('noforward: the forwarding attribute stays but is ignored', async () => {
    expect((await account('nofw@example.org')).delivery).toBeUndefined();
  });

  it('reply with mailReplyText: a vacation text; without deliveryMode reply or without a text: none', async () => {
    expect((await account('reply@example.org')).delivery).toEqual({ local: true, forwards: [], replyText: REPLY });
    expect((await account('textonly@example.org')).delivery).toBeUndefined();
    expect((await account('replynotext@example.org')).delivery).toBeUndefined();
  });

  it('several values combine; local, forward, program, noreply and normal are ignored silently', async () => {
    expect((await account('many@example.org')).delivery).toEqual({ local: false, forwards: ['x@remote.example'], replyText: REPLY });
    expect(captured.lines.filter((l) => l.account === 'many@example.org')).toEqual([]);
  });

  it('undefined values are ignored with one warning per account', async () => {
    expect((await account('oddmode@example.org')).delivery).toBeUndefined();
    await account('oddmode@example.org');
    const warned = captured.lines.filter((l) => l.account === 'oddmode@example.org');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ values: ['echo', 'vacation'] });
  });

  it('deliveryProgramPath is not run: logged once per account, plain Maildir delivery', async () => {
    for (let i = 0; i < 3; i++) expect((await account('prog@example.org')).delivery).toBeUndefined();
    expect((await account('noprog@example.org')).delivery).toBeUndefined();
    const prog = captured.lines.filter((l) => l.account === 'prog@example.org');
    expect(prog).toHaveLength(1);
    expect(String(prog[0]!.msg)).toContain('deliveryProgramPath');
    expect(captured.lines.filter((l) => l.account === 'noprog@example.org')).toHaveLength(1);
  });

  it('a forward that is not one address with a domain defers the entry (with nolocal it would be lost)', async () => {
    const r = await dir.lookupRecipient('badfw@example.org');
    expect(r.kind).toBe('deferred');
    expect(captured.lines.some((l) => l.msg === 'LDAP entry refused' && String(l.problem).includes('no-domain'))).toBe(true);
  });

  it('LIMITS.delivery.maxForwards distinct forwards are kept; one more defers the entry (noforward: not counted)', async () => {
    expect((await account('fwmax@example.org')).delivery).toEqual({ local: true, forwards: targets(LIMITS.delivery.maxForwards) });
    const r = await dir.lookupRecipient('fwover@example.org');
    expect(r.kind).toBe('deferred');
    expect(captured.lines.some((l) => l.msg === 'LDAP entry refused' && l.address === 'fwover@example.org' && String(l.problem).includes(`more than ${LIMITS.delivery.maxForwards}`))).toBe(true);
    expect((await account('fwovernf@example.org')).delivery).toBeUndefined();
  });
});
