/**
 * Encoding and decoding of journal records at the edges: a record read from
 * SQLite (./log.ts) or received from the primary (src/replication) is
 * checked once against its kind's shape (./records.ts) and from then on
 * trusted by its type. An unknown kind, a missing or mistyped field, or a
 * record encoded by a newer release is a RecordDecodeError naming the LSN,
 * kind and field: replication stops there with that message instead of
 * applying part of a record or skipping it.
 *
 * Versions. Every record is encoded with an encoding version: the `v` of a
 * wire record, the `v` column of the SQLite journal. A record without one
 * was written by a release before versions existed, in the version 1
 * encoding. A release that changes a kind's fields raises RECORD_VERSION
 * and keeps decoding every older version (test/fixtures/journal-v1.json is
 * the version 1 encoding of every kind, decoded and applied by
 * test/store/journal-codec.test.ts), so its replica can follow a primary of
 * an older release. Fields a decoder does not know are kept as they came.
 */
import { RECORD_KINDS, type JournalRecord, type RecordKind } from './records.js';

/** The encoding version this release writes. */
export const RECORD_VERSION = 1;

/** A journal record as it travels between nodes (and sits in the spool): bigints as decimal strings. */
export interface WireRecord {
  readonly lsn: string;
  readonly epoch: number;
  readonly time: number;
  readonly accountId: string;
  readonly kind: string;
  readonly data: unknown;
  /** Encoding version; absent means 1. */
  readonly v?: number;
}

export class RecordDecodeError extends Error {
  override readonly name = 'RecordDecodeError';
  constructor(
    /** LSN of the record as far as it could be read ('?' when not even that). */
    readonly lsn: string,
    readonly kind: string,
    readonly detail: string,
  ) {
    super(`journal record ${lsn} (${kind}): ${detail}`);
  }
}

export const isRecordDecodeError = (e: unknown): e is RecordDecodeError => e instanceof RecordDecodeError;

// --- Shapes: a check returns null when the value fits, else the path of the first field that does not.

type Check = (v: unknown, at: string) => string | null;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const test =
  (ok: (v: unknown) => boolean, what: string): Check =>
  (v, at) =>
    ok(v) ? null : `${at} must be ${what}`;

const str = test((v) => typeof v === 'string', 'a string');
const bool = test((v) => typeof v === 'boolean', 'true or false');
/** UIDs, UIDVALIDITY, sizes, counts. */
const count = test((v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0, 'a non-negative integer');
/** Times in ms since the epoch (INTERNALDATE may predate 1970). */
const time = test((v) => typeof v === 'number' && Number.isFinite(v), 'a number');
/** A 63-bit mod-sequence as a decimal string (RFC 7162 §3.1.2). */
const modseq = test((v) => typeof v === 'string' && /^[0-9]{1,19}$/.test(v), 'a decimal mod-sequence string');

const opt =
  (c: Check): Check =>
  (v, at) =>
    v === undefined ? null : c(v, at);
const nullable =
  (c: Check): Check =>
  (v, at) =>
    v === null ? null : c(v, at);

function arrayOf(c: Check): Check {
  return (v, at) => {
    if (!Array.isArray(v)) return `${at} must be a list`;
    for (let i = 0; i < v.length; i++) {
      const bad = c(v[i], `${at}[${i}]`);
      if (bad) return bad;
    }
    return null;
  };
}

function tuple(...cs: Check[]): Check {
  return (v, at) => {
    if (!Array.isArray(v) || v.length !== cs.length) return `${at} must be a list of ${cs.length}`;
    for (let i = 0; i < cs.length; i++) {
      const bad = cs[i]!(v[i], `${at}[${i}]`);
      if (bad) return bad;
    }
    return null;
  };
}

type Shape = Readonly<Record<string, Check>>;

function object(shape: Shape): Check {
  const fields = Object.entries(shape);
  return (v, at) => {
    if (!isObject(v)) return `${at} must be an object`;
    for (const [k, c] of fields) {
      const bad = c(v[k], `${at}.${k}`);
      if (bad) return bad;
    }
    return null;
  };
}

function oneOf(pick: (v: Record<string, unknown>) => Check | string): Check {
  return (v, at) => {
    if (!isObject(v)) return `${at} must be an object`;
    const c = pick(v);
    return typeof c === 'string' ? `${at}.${c}` : c(v, at);
  };
}

const mail = { maildir: str, origin: opt(str) };
const inMailbox = { ...mail, mailbox: str, uidvalidity: count };
const uidSet = { uids: opt(arrayOf(count)), ranges: opt(arrayOf(tuple(count, count))) };

const STATUSES = ['active', 'noaccess', 'disabled', 'deleted'];
const directoryUser = object({
  address: str,
  password: str,
  maildir: str,
  quota_bytes: count,
  quota_messages: count,
  max_message_size: count,
  status: test((v) => typeof v === 'string' && STATUSES.includes(v), `one of ${STATUSES.join(', ')}`),
  created: time,
  uidl_format: opt(str),
  forwards: opt(str),
  reply_text: opt(str),
});

const directoryChange = oneOf((c) => {
  switch (c.op) {
    case 'user-put':
      return object({ user: directoryUser });
    case 'user-del':
      return object({ address: str });
    case 'alias-put':
      return object({ alias: str, address: str });
    case 'alias-del':
      return object({ alias: str });
    default:
      return `op ${JSON.stringify(c.op)} is not a directory change`;
  }
});

const SHAPES: Readonly<Record<RecordKind, Check>> = {
  deliver: object({
    ...inMailbox,
    uid: count,
    modseq,
    basename: str,
    filename: str,
    tmp: opt(str),
    flags: arrayOf(str),
    internalDate: time,
    size: count,
    vsize: count,
    sender: opt(str),
    external: opt(bool),
    copyOf: opt(object({ mailbox: str, uidvalidity: count, uid: count })),
    lazy: opt(bool),
  }),
  flags: object({ ...inMailbox, modseq, updates: arrayOf(object({ flags: arrayOf(str), ...uidSet, filenames: opt(arrayOf(str)) })) }),
  expunge: object({ ...inMailbox, modseq, ...uidSet }),
  'mailbox-create': object({ ...inMailbox, specialUse: opt(nullable(str)), subscribed: opt(bool), uidnext: opt(count), fromMaildir: opt(bool) }),
  'mailbox-delete': object(inMailbox),
  'mailbox-rename': oneOf((d) =>
    d.pairs !== undefined
      ? object({ ...mail, from: str, to: str, pairs: arrayOf(tuple(str, str)) })
      : object({ ...mail, from: str, to: str, uidvalidity: count, modseq, uids: arrayOf(count) }),
  ),
  subscribe: object({ ...mail, mailbox: str, subscribed: bool }),
  recent: object({ ...inMailbox, uid: count }),
  account: object({ changes: opt(arrayOf(directoryChange)), vacation: opt(object({ sender: str, hash: str, at: time })) }),
  quota: object({ maildir: opt(str) }),
  keywords: object({ ...inMailbox, table: arrayOf(nullable(str)) }),
  'pop3-uidls': oneOf((d) =>
    d.removed !== undefined
      ? object({ ...mail, removed: test((v) => v === true, 'true') })
      : object({ ...mail, uidvalidity: count, reset: bool, last: bool, uidls: arrayOf(tuple(count, str)) }),
  ),
  facts: object({ ...inMailbox, facts: arrayOf(tuple(count, count, count, time)) }),
};

const KINDS = new Set<string>(RECORD_KINDS);

/**
 * A record from its parts, checked. `v` is the encoding version (undefined:
 * written before versions, i.e. 1). Throws RecordDecodeError.
 */
export function decodeRecord(lsn: bigint, epoch: number, time: number, accountId: string, kind: string, data: unknown, v: number | undefined): JournalRecord {
  const id = lsn.toString();
  if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) throw new RecordDecodeError(id, kind, `encoding version ${String(v)} is not valid`);
  if (v !== undefined && v > RECORD_VERSION)
    throw new RecordDecodeError(id, kind, `encoded by a newer release (version ${v}; this release reads up to ${RECORD_VERSION}): upgrade this node`);
  if (!KINDS.has(kind)) throw new RecordDecodeError(id, kind, 'unknown record kind');
  const bad = SHAPES[kind as RecordKind](data, 'data');
  if (bad !== null) throw new RecordDecodeError(id, kind, bad);
  return { lsn, epoch, time, accountId, kind, data } as JournalRecord;
}

/** The encoded `data` of a record (the SQLite column and the wire field). */
export function encodeData(rec: { readonly data: unknown }): string {
  return JSON.stringify(rec.data);
}

export function toWire(r: JournalRecord): WireRecord {
  return { lsn: r.lsn.toString(), epoch: r.epoch, time: r.time, accountId: r.accountId, kind: r.kind, data: r.data, v: RECORD_VERSION };
}

const WIRE_HEAD = object({ epoch: count, time, accountId: str, v: opt(count) });

/** A record received from a peer (or read back from the replica's spool), checked. Throws RecordDecodeError. */
export function fromWire(raw: unknown): JournalRecord {
  if (!isObject(raw)) throw new RecordDecodeError('?', '?', 'record must be an object');
  const lsn = typeof raw.lsn === 'string' && /^[0-9]{1,19}$/.test(raw.lsn) ? BigInt(raw.lsn) : null;
  const kind = typeof raw.kind === 'string' ? raw.kind : '?';
  if (lsn === null) throw new RecordDecodeError('?', kind, 'lsn must be a decimal string');
  const bad = WIRE_HEAD(raw, 'record');
  if (bad !== null) throw new RecordDecodeError(lsn.toString(), kind, bad);
  if (typeof raw.kind !== 'string') throw new RecordDecodeError(lsn.toString(), kind, 'kind must be a string');
  return decodeRecord(lsn, raw.epoch as number, raw.time as number, raw.accountId as string, raw.kind, raw.data, raw.v as number | undefined);
}
