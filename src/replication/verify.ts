/**
 * `roost verify`: both nodes describe every mailbox — UIDVALIDITY, UIDNEXT,
 * and per message UID, Maildir base name, flags, modseq and a SHA-256 of the
 * file — and the differences are listed. Exit 0 only when there are none.
 */
import { createHash } from 'node:crypto';
import { LIMITS } from '../limits.js';
import type { Account, Directory } from '../accounts/directory.js';
import type { Store } from '../store/store.js';
import type { Link, MailboxManifest } from './protocol.js';
import { HandshakeError, expect } from './handshake.js';

/**
 * SHA-256s already known by "UIDVALIDITY.UID" (a move hashes each message
 * as it sends or receives it, so the frozen comparison need not read them again).
 */
export type KnownHashes = ReadonlyMap<string, string>;

/** A message's key in KnownHashes: "UIDVALIDITY.UID" (move.ts and move-receive.ts fill the maps with it). */
export const knownKey = (uidvalidity: number, uid: number): string => `${uidvalidity}.${uid}`;

/** Every mailbox of every account in this store (or of `only`), in a stable order. */
export async function* manifest(store: Store, directory: Directory, only?: Account, known?: KnownHashes): AsyncGenerator<MailboxManifest> {
  const ids = only ? [only.id] : [...(await store.replication.listAccountIds())].sort();
  for (const accountId of ids) {
    const account = only ?? (await directory.accountById(accountId));
    if (!account) continue;
    const user = store.user(account, { frozenToo: true });
    const boxes = [...(await user.listMailboxes())].filter((b) => b.selectable).map((b) => b.name).sort();
    for (const name of boxes) {
      const box = await user.openMailbox(name, { readOnly: true });
      try {
        const snap = box.snapshot();
        const messages: MailboxManifest['messages'] = [];
        for (const m of snap.messages) {
          let sum = known?.get(knownKey(snap.uidvalidity, m.uid)) ?? 'missing';
          if (sum === 'missing') try {
            // Hashed as it is read: a large message is never held whole.
            const hash = createHash('sha256');
            for await (const chunk of await box.openMessage(m.uid)) hash.update(chunk as Buffer);
            sum = hash.digest('hex');
          } catch {
            // Reported as a difference: the index names a file that cannot be read.
          }
          messages.push([m.uid, m.basename, [...m.flags].sort().join(' '), m.modseq.toString(), sum]);
        }
        yield { accountId, mailbox: name, uidvalidity: snap.uidvalidity, uidnext: snap.uidnext, messages };
      } finally {
        box.close();
      }
    }
  }
}

export async function sendManifest(store: Store, directory: Directory, link: Link, only?: Account, known?: KnownHashes): Promise<void> {
  for await (const entry of manifest(store, directory, only, known)) for (const piece of manifestPieces(entry)) await link.send({ t: 'manifest', entry: piece });
  await link.send({ t: 'manifest-end', lastLsn: store.lastLsn().toString() });
}

/**
 * A mailbox's manifest in frames of at most LIMITS.replication.manifestEntriesPerFrame
 * messages: the whole of a large mailbox outgrows one frame header
 * (LIMITS.replication.maxFrameHeader; 10,000 messages take about 1.5 MB of JSON).
 * The receiver joins consecutive pieces of one mailbox (mergeManifestPiece).
 */
export function manifestPieces(entry: MailboxManifest): MailboxManifest[] {
  const n = LIMITS.replication.manifestEntriesPerFrame;
  if (entry.messages.length <= n) return [entry];
  const out: MailboxManifest[] = [];
  for (let i = 0; i < entry.messages.length; i += n) out.push({ ...entry, messages: entry.messages.slice(i, i + n) });
  return out;
}

/** Add one received piece: a continuation of the last mailbox (same account and name) extends it. */
export function mergeManifestPiece(entries: MailboxManifest[], piece: MailboxManifest): void {
  const last = entries.at(-1);
  if (last && last.accountId === piece.accountId && last.mailbox === piece.mailbox) last.messages.push(...piece.messages);
  else entries.push(piece);
}

/**
 * Counts what a peer's manifest makes this node hold: each message, and
 * each mailbox piece as one; past `max` it throws PROTOCOL before the piece
 * is kept (a move passes the number of messages it sent: a true copy has no more).
 */
export class ManifestBudget {
  private entries = 0;
  constructor(private readonly max: number = LIMITS.replication.maxManifestEntries) {}

  add(piece: { messages?: unknown }): void {
    if (!Array.isArray(piece.messages)) throw new HandshakeError('PROTOCOL', 'a manifest piece without a message list');
    this.entries += 1 + piece.messages.length;
    if (this.entries > this.max) throw new HandshakeError('PROTOCOL', `the peer's manifest holds more than ${this.max} entries`);
  }
}

export async function receiveManifest(link: Link, opts: { maxEntries?: number; timeoutMs?: number } = {}): Promise<{ entries: MailboxManifest[]; lastLsn: bigint }> {
  const entries: MailboxManifest[] = [];
  const budget = new ManifestBudget(opts.maxEntries);
  for (;;) {
    const { frame } = await link.next(opts.timeoutMs ?? LIMITS.replication.manifestFrameTimeoutMs);
    if (frame.t === 'manifest') {
      budget.add(frame.entry);
      mergeManifestPiece(entries, frame.entry);
    } else if (frame.t === 'manifest-end') return { entries, lastLsn: BigInt(frame.lastLsn) };
    else if (frame.t === 'refuse') await expect(link, 'manifest-end'); // surfaces the refusal
    else throw new Error(`unexpected ${frame.t} in manifest`);
  }
}

export interface VerifyReport {
  identical: boolean;
  mailboxes: number;
  messages: number;
  differences: string[];
}

/** Compare two manifests; differences are human-readable lines, at most `max`. */
export function compareManifests(local: MailboxManifest[], peer: MailboxManifest[], max = 1000): VerifyReport {
  const differences: string[] = [];
  const add = (line: string): void => {
    if (differences.length < max) differences.push(line);
  };
  const key = (m: MailboxManifest): string => `${m.accountId}\u0000${m.mailbox}`;
  const theirs = new Map(peer.map((m) => [key(m), m]));
  let messages = 0;
  for (const mine of local) {
    const other = theirs.get(key(mine));
    theirs.delete(key(mine));
    const where = `${mine.accountId} ${JSON.stringify(mine.mailbox)}`;
    messages += mine.messages.length;
    if (!other) {
      add(`${where}: only on this node`);
      continue;
    }
    if (mine.uidvalidity !== other.uidvalidity) add(`${where}: UIDVALIDITY ${mine.uidvalidity} here, ${other.uidvalidity} on peer`);
    if (mine.uidnext !== other.uidnext) add(`${where}: UIDNEXT ${mine.uidnext} here, ${other.uidnext} on peer`);
    const peerByUid = new Map(other.messages.map((m) => [m[0], m]));
    for (const m of mine.messages) {
      const o = peerByUid.get(m[0]);
      peerByUid.delete(m[0]);
      if (!o) {
        add(`${where} UID ${m[0]}: only on this node (${m[1]})`);
        continue;
      }
      if (m[1] !== o[1]) add(`${where} UID ${m[0]}: file ${m[1]} here, ${o[1]} on peer`);
      if (m[2] !== o[2]) add(`${where} UID ${m[0]}: flags (${m[2]}) here, (${o[2]}) on peer`);
      if (m[3] !== o[3]) add(`${where} UID ${m[0]}: modseq ${m[3]} here, ${o[3]} on peer`);
      if (m[4] !== o[4]) add(`${where} UID ${m[0]}: content differs (sha256 ${m[4].slice(0, 12)} here, ${o[4].slice(0, 12)} on peer)`);
    }
    for (const o of peerByUid.values()) add(`${where} UID ${o[0]}: only on peer (${o[1]})`);
  }
  for (const other of theirs.values()) add(`${other.accountId} ${JSON.stringify(other.mailbox)}: only on peer`);
  return { identical: differences.length === 0, mailboxes: local.length, messages, differences };
}
