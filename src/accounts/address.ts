/**
 * Mail addresses as account keys: normalised for lookup, and checked before
 * they become directory names under mail_dir (no "/", no "..", no control bytes).
 */
import { LIMITS } from '../limits.js';

/** Lower-case and strip one pair of angle brackets; addresses compare case-insensitively here, as in qmail-ldap. */
export function normalizeAddress(address: string): string {
  let a = address.trim();
  if (a.startsWith('<') && a.endsWith('>')) a = a.slice(1, -1);
  return a.toLowerCase();
}

const MAX_LOCAL = LIMITS.delivery.maxLocalPartLength;
const MAX_DOMAIN = LIMITS.delivery.maxDomainLength;
/** Dot-atom local parts (RFC 5322 §3.4.1) minus characters awkward in file names. */
const LOCAL_RE = /^[a-z0-9!#$%&'*+=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+=?^_`{|}~-]+)*$/;
const DOMAIN_RE = /^(?=.{1,255}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

export interface ParsedAddress {
  local: string;
  domain: string;
}

/** Parse a normalised address for use as an account; null when it is not acceptable. */
export function parseAccountAddress(address: string): ParsedAddress | null {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return null;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (local.length > MAX_LOCAL || domain.length > MAX_DOMAIN) return null;
  if (!LOCAL_RE.test(local) || !DOMAIN_RE.test(domain)) return null;
  return { local, domain };
}
