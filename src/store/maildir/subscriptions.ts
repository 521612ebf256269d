/**
 * Subscriptions other servers left in a Maildir++, read when
 * a Maildir is imported so a user who had 5 of 17 folders subscribed still
 * sees 5:
 *
 *  - Dovecot `subscriptions` in the Maildir root. Version 2 starts with the
 *    line "V<TAB>2" and an empty line; each following line is one name with
 *    its hierarchy levels separated by TAB, each level tab-escaped (\x01
 *    followed by 1, t, r or n stands for \x01, TAB, CR, LF). Version 1 (no
 *    header) has one name per line with the hierarchy separator as is.
 *  - Courier `courierimapsubscribed`: one name per line, folders under the
 *    "INBOX." namespace ("INBOX.Sent"), in modified UTF-7.
 *
 * Names come back as Roost names ("Sent", "Work.2024", "INBOX"). Modified
 * UTF-7 is decoded where it is valid (older Dovecot and Courier write it;
 * Dovecot 2.x writes UTF-8, which has no "&…-" sequences to misread).
 */
import fs from 'node:fs';
import path from 'node:path';
import { replaceFile, replaceFileSync } from './fd.js';
import { decodeMailboxName } from '../../text/mutf7.js';
import { INBOX, normalizeMailboxName } from './names.js';

const V2_HEADER = 'V\t2';

function tabUnescape(s: string): string {
  return s.replace(/\x01([1trn])/g, (_m, c: string) => (c === '1' ? '\x01' : c === 't' ? '\t' : c === 'r' ? '\r' : '\n'));
}

function roostName(raw: string, courier: boolean): string | null {
  let name = raw;
  // Courier's private namespace is "INBOX."; Dovecot's default has no prefix.
  if (courier && name.toUpperCase().startsWith('INBOX.')) name = name.slice(6);
  try {
    name = name.split('.').map(decodeMailboxName).join('.');
  } catch {
    // Not modified UTF-7: taken as UTF-8.
  }
  try {
    return normalizeMailboxName(name === '' ? INBOX : name);
  } catch {
    return null;
  }
}

/** Parse the text of a Dovecot `subscriptions` file into Roost names. */
export function parseDovecotSubscriptions(text: string): string[] {
  const lines = text.split('\n');
  const v2 = lines[0] === V2_HEADER;
  const out: string[] = [];
  for (let i = v2 ? 1 : 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const raw = v2 ? line.split('\t').map(tabUnescape).join('.') : line;
    const n = roostName(raw, false);
    if (n) out.push(n);
  }
  return out;
}

/** Parse the text of a Courier `courierimapsubscribed` file into Roost names. */
export function parseCourierSubscriptions(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const l = line.replace(/\r$/, '');
    if (l === '') continue;
    const n = roostName(l, true);
    if (n) out.push(n);
  }
  return out;
}

/** The subscribed names a Maildir root carries from Dovecot or Courier, or null when it has neither file. */
export function readForeignSubscriptions(maildir: string): Set<string> | null {
  const read = (f: string): string | null => {
    try {
      return fs.readFileSync(path.join(maildir, f), 'utf8');
    } catch {
      return null;
    }
  };
  const dovecot = read('subscriptions');
  const courier = read('courierimapsubscribed');
  if (dovecot === null && courier === null) return null;
  return new Set([...(dovecot !== null ? parseDovecotSubscriptions(dovecot) : []), ...(courier !== null ? parseCourierSubscriptions(courier) : [])]);
}

/**
 * A Dovecot version 2 `subscriptions` file for these names, as Dovecot
 * 2.3.19 writes it ("V<TAB>2", an empty line, then one name a line with
 * TAB between hierarchy levels, "INBOX" as is), so Dovecot reads it after a
 * move back.
 */
export function formatDovecotSubscriptions(names: readonly string[]): string {
  const esc = (s: string) => s.replace(/[\x01\t\r\n]/g, (c) => '\x01' + (c === '\x01' ? '1' : c === '\t' ? 't' : c === '\r' ? 'r' : 'n'));
  let out = `${V2_HEADER}\n\n`;
  for (const n of names) out += n.split('.').map(esc).join('\t') + '\n';
  return out;
}

/**
 * Whether a mailbox found in a Maildir without an index starts subscribed:
 * as the Dovecot or Courier subscription file there says, or (neither file,
 * e.g. a qmail Maildir) subscribed, as Roost always did.
 */
export function subscribedOnImport(maildir: string, name: string): boolean {
  const foreign = readForeignSubscriptions(maildir);
  return foreign === null || foreign.has(name);
}

export const DOVECOT_SUBSCRIPTIONS_FILE = 'subscriptions';

/**
 * Write the Maildir root's Dovecot `subscriptions` file (tmp, fsync, rename:
 * a reader sees the old list or the new one, never half of one).
 */
export function writeDovecotSubscriptions(maildir: string, names: readonly string[]): void {
  replaceFileSync(path.join(maildir, DOVECOT_SUBSCRIPTIONS_FILE), formatDovecotSubscriptions(names));
}

/** writeDovecotSubscriptions() in the thread pool. */
export function writeDovecotSubscriptionsAsync(maildir: string, names: readonly string[]): Promise<void> {
  return replaceFile(path.join(maildir, DOVECOT_SUBSCRIPTIONS_FILE), formatDovecotSubscriptions(names));
}
