/**
 * Turning one qmail-ldap entry into Roost's view of an account
 * (qmail.schema, QLDAPINSTALL): status, quota, size limit, mail host and the
 * Maildir path, which must stay inside the places the operator allowed.
 */
import path from 'node:path';
import type { Entry } from 'ldapts';
import { LIMITS } from '../limits.js';
import type { Account, AccountStatus } from './directory.js';
import { normalizeAddress } from './address.js';
import { deliveryOptions, forwardTargetProblem, parseDeliveryModes } from './delivery-mode.js';

/** Attribute names in use (config attr_*; qmail-ldap names by default). */
export interface AttrNames {
  mail: string;
  alternate: string;
  uid: string;
  password: string;
  store: string;
  home: string;
  quotaSize: string;
  quotaCount: string;
  sizeMax: string;
  status: string;
  host: string;
  /** Per-account pop3.uidl_format (directory.ldap.attr_uidl_format); '' = not read. */
  uidlFormat?: string;
  /** mailForwardingAddress, deliveryMode, mailReplyText, deliveryProgramPath (QLDAPINSTALL). */
  forwards: string;
  deliveryMode: string;
  replyText: string;
  program: string;
}

export interface StorePolicy {
  /** Base for relative mailMessageStore values (qmail-ldap control/ldapmessagestore). */
  base: string;
  /** Absolute values must lie strictly below one of these. */
  allowedPrefixes: string[];
}

export interface EntryPolicy extends StorePolicy {
  attrs: AttrNames;
  defaultQuotaBytes: number;
  defaultQuotaMessages: number;
}

/** Values of one attribute, found case-insensitively (servers may answer with another spelling). */
export function values(entry: Entry, attr: string): string[] {
  const want = attr.toLowerCase();
  for (const [k, v] of Object.entries(entry)) {
    if (k.toLowerCase() !== want || k === 'dn') continue;
    const list = Array.isArray(v) ? v : [v];
    return list.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
  }
  return [];
}

export function rawValues(entry: Entry, attr: string): Buffer[] {
  const want = attr.toLowerCase();
  for (const [k, v] of Object.entries(entry)) {
    if (k.toLowerCase() !== want || k === 'dn') continue;
    const list = Array.isArray(v) ? v : [v];
    return list.map((x) => (Buffer.isBuffer(x) ? x : Buffer.from(String(x), 'utf8')));
  }
  return [];
}

const first = (entry: Entry, attr: string): string | undefined => values(entry, attr)[0];

/**
 * accountStatus (qmail-ldap.h, qldap_get_status): compared case-insensitively,
 * absent or unknown = active. The legacy `nopop` (renamed `noaccess` in
 * 20031001) is read as noaccess, the safer meaning.
 */
export function parseStatus(value: string | undefined): AccountStatus {
  switch ((value ?? '').trim().toLowerCase()) {
    case 'noaccess':
    case 'nopop':
      return 'noaccess';
    case 'disabled':
      return 'disabled';
    case 'deleted':
      return 'deleted';
    default:
      return 'active';
  }
}

/** A non-negative integer attribute; absent = fallback; anything else is an error in the entry. */
function intAttr(entry: Entry, attr: string, fallback: number): number | string {
  const v = first(entry, attr);
  if (v === undefined) return fallback;
  if (!/^\s*\d{1,15}\s*$/.test(v)) return `${attr} is not a non-negative integer: ${JSON.stringify(v)}`;
  return Number(v);
}

/** Strictly below `root` (not equal to it). */
function inside(p: string, root: string): boolean {
  const r = root.endsWith(path.sep) ? root : root + path.sep;
  return p.startsWith(r) && p.length > r.length;
}

/**
 * Resolve a mailMessageStore (or homeDirectory/Maildir) value to an absolute
 * path, or explain why it is refused. No ".." segments at all, no control
 * characters; relative values go under the base, absolute values must lie
 * below an allowed prefix (or the base).
 */
export function resolveStore(value: string, policy: StorePolicy): { path: string } | { error: string } {
  if (value === '' || /[\x00-\x1f\x7f]/.test(value)) return { error: 'empty or has control characters' };
  if (value.length > LIMITS.ldap.maxStorePathLength) return { error: 'too long' };
  if (value.split('/').includes('..')) return { error: 'contains ".."' };
  const base = path.resolve(policy.base);
  if (path.isAbsolute(value)) {
    const p = path.resolve(value);
    const roots = [...policy.allowedPrefixes.filter((x) => x !== '').map((x) => path.resolve(x)), base];
    if (!roots.some((r) => inside(p, r))) return { error: 'absolute path outside allowed_store_prefixes' };
    return { path: p };
  }
  const p = path.resolve(base, value);
  if (!inside(p, base)) return { error: 'relative path escapes message_store_base' };
  return { path: p };
}

export type EntryVerdict =
  | {
      ok: true;
      account: Account;
      host: string | undefined;
      /** deliveryProgramPath is set (Roost runs no programs: logged once per account). */
      program: boolean;
      /** deliveryMode values qmail-local would warn about (ignored). */
      unknownModes: string[];
    }
  | { ok: false; error: string };

/** Build the Account for an entry, or say what in the entry is unusable. */
export function entryToAccount(entry: Entry, policy: EntryPolicy): EntryVerdict {
  const a = policy.attrs;
  const mail = first(entry, a.mail);
  if (!mail) return { ok: false, error: `no ${a.mail}` };
  const address = normalizeAddress(mail);
  const store = first(entry, a.store);
  const home = first(entry, a.home);
  let resolved: { path: string } | { error: string };
  if (store !== undefined) resolved = resolveStore(store, policy);
  // qmail-ldap delivers to $HOME's default delivery (./Maildir/) when there is no mailMessageStore.
  else if (home !== undefined) resolved = resolveStore(home.replace(/\/+$/, '') + '/Maildir/', policy);
  else return { ok: false, error: `neither ${a.store} nor ${a.home}` };
  if ('error' in resolved) return { ok: false, error: `${store !== undefined ? a.store : a.home} ${JSON.stringify(store ?? home)}: ${resolved.error}` };
  const quotaBytes = intAttr(entry, a.quotaSize, policy.defaultQuotaBytes);
  const quotaMessages = intAttr(entry, a.quotaCount, policy.defaultQuotaMessages);
  const maxMessageSize = intAttr(entry, a.sizeMax, 0);
  for (const v of [quotaBytes, quotaMessages, maxMessageSize]) if (typeof v === 'string') return { ok: false, error: v };
  const forwards = values(entry, a.forwards);
  for (const f of forwards) {
    const problem = forwardTargetProblem(f);
    // Refused (Z) rather than skipped: with nolocal, a dropped forward would lose the mail.
    if (problem) return { ok: false, error: `${a.forwards} ${JSON.stringify(f)}: ${problem}` };
  }
  const modes = parseDeliveryModes(values(entry, a.deliveryMode));
  const delivery = deliveryOptions(forwards, modes, first(entry, a.replyText));
  // The embedded directory's cap (one message's fan-out), counted after de-duplication (noforward leaves none).
  // Refused (Z, logged as an entry error) rather than cut to the first N: LDAP values have no order, so which
  // targets lost the copy would be arbitrary, and with nolocal it would be lost; deferred mail waits for the fix.
  if (delivery && delivery.forwards.length > LIMITS.delivery.maxForwards)
    return { ok: false, error: `${a.forwards} has ${delivery.forwards.length} distinct values, more than ${LIMITS.delivery.maxForwards}` };
  const account: Account = {
    id: address,
    address,
    login: first(entry, a.uid) ?? address,
    maildir: resolved.path,
    quotaBytes: quotaBytes as number,
    quotaMessages: quotaMessages as number,
    maxMessageSize: maxMessageSize as number,
    status: parseStatus(first(entry, a.status)),
    ...(delivery ? { delivery } : {}),
  };
  const uidl = a.uidlFormat ? first(entry, a.uidlFormat) : undefined;
  const program = a.program !== '' && values(entry, a.program).length > 0;
  const rest = { host: first(entry, a.host), program, unknownModes: modes.unknown };
  if (uidl) return { ok: true, account: { ...account, uidlFormat: uidl }, ...rest };
  return { ok: true, account, ...rest };
}
