/**
 * The embedded directory (default backend): data_dir/accounts.sqlite, managed
 * with `roost user …`. The server and the CLI open the same file; WAL mode and
 * a busy timeout let `roost user add` run while the node serves.
 *
 * Account ids are the normalised primary address: stable across nodes, so a
 * replica with its own copy of the directory maps journal records to the same
 * accounts.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { RoostError } from '../errors.js';
import { LIMITS } from '../limits.js';
import type { Account, AccountStatus, AuthResult, Directory, DirectoryHealth, RecipientResult } from './directory.js';
import { normalizeAddress, parseAccountAddress } from './address.js';
import { hashPassword, verifyPassword } from './password.js';
import { deliveryOptions, forwardTargetProblem, parseDeliveryModes } from './delivery-mode.js';

/** The forwards column as a list. */
export function forwardList(row: Pick<UserRow, 'forwards'>): string[] {
  return (row.forwards ?? '').split('\n').filter((f) => f !== '');
}

const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS users (
  address TEXT PRIMARY KEY,
  password TEXT NOT NULL DEFAULT '',
  maildir TEXT NOT NULL,
  quota_bytes INTEGER NOT NULL DEFAULT 0,
  quota_messages INTEGER NOT NULL DEFAULT 0,
  max_message_size INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','noaccess','disabled','deleted')),
  created INTEGER NOT NULL,
  uidl_format TEXT NOT NULL DEFAULT '',
  forwards TEXT NOT NULL DEFAULT '',
  reply_text TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS aliases (
  alias TEXT PRIMARY KEY,
  address TEXT NOT NULL REFERENCES users(address) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS aliases_address ON aliases(address);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/** qmail-local's answer for an unknown mailbox; D text (#5.1.1). */
export const NO_MAILBOX_TEXT = 'Sorry, no mailbox here by that name. (#5.1.1)';

export interface UserRow {
  address: string;
  password: string;
  maildir: string;
  quota_bytes: number;
  quota_messages: number;
  max_message_size: number;
  status: AccountStatus;
  created: number;
  /** pop3.uidl_format for this account; '' = the config's. */
  uidl_format: string;
  /** Forwarding targets, one per line ('' = none), kept in addition to the Maildir copy. */
  forwards: string;
  /** Vacation text ('' = no replies); as mailReplyText with deliveryMode reply. */
  reply_text: string;
}

export interface NewUser {
  address: string;
  password?: string;
  quotaBytes?: number;
  quotaMessages?: number;
  maxMessageSize?: number;
  status?: AccountStatus;
}

/**
 * One change of the embedded directory as it travels in an 'account' journal
 * record: the full row after the change (the password as its hash),
 * or its removal. Applying one twice, or a put over an equal row, changes
 * nothing, so replay and replication may repeat them.
 */
export type DirectoryChange =
  | { op: 'user-put'; user: UserRow }
  | { op: 'user-del'; address: string }
  | { op: 'alias-put'; alias: string; address: string }
  | { op: 'alias-del'; alias: string };

export interface UserSummary {
  account: Account;
  aliases: string[];
  hasPassword: boolean;
}

export class SqliteDirectory implements Directory {
  readonly backend = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly q: {
    user: Database.Statement<[string], UserRow>;
    alias: Database.Statement<[string], { address: string }>;
    aliasesOf: Database.Statement<[string], { alias: string }>;
    all: Database.Statement<[], UserRow>;
  };
  private lastError: string | null = null;

  constructor(
    file: string,
    private readonly mailDir: string,
  ) {
    try {
      this.db = new Database(file);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('busy_timeout = 5000');
      this.db.pragma('foreign_keys = ON');
      this.db.exec(SCHEMA_SQL);
      // Directories made before the column existed.
      const cols = this.db.prepare('PRAGMA table_info(users)').all() as { name: string }[];
      for (const col of ['uidl_format', 'forwards', 'reply_text'])
        if (!cols.some((c) => c.name === col)) this.db.exec(`ALTER TABLE users ADD COLUMN ${col} TEXT NOT NULL DEFAULT ''`);
    } catch (err) {
      throw new RoostError('UNAVAILABLE', `directory ${file}: ${(err as Error).message}`, { cause: err });
    }
    this.q = {
      user: this.db.prepare('SELECT * FROM users WHERE address = ?'),
      alias: this.db.prepare('SELECT address FROM aliases WHERE alias = ?'),
      aliasesOf: this.db.prepare('SELECT alias FROM aliases WHERE address = ? ORDER BY alias'),
      all: this.db.prepare('SELECT * FROM users ORDER BY address'),
    };
  }

  /** Run a query; an SQLite failure (busy, I/O) is an outage, never "no such user". */
  private guard<T>(what: string, fn: () => T): T {
    try {
      const v = fn();
      this.lastError = null;
      return v;
    } catch (err) {
      if (err instanceof RoostError) throw err;
      this.lastError = (err as Error).message;
      throw new RoostError('UNAVAILABLE', `directory ${what}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** The Account a row describes (Maildir resolved against this node's mail_dir). */
  toAccount(row: UserRow): Account {
    const delivery = deliveryOptions(forwardList(row), parseDeliveryModes(row.reply_text ? ['reply'] : []), row.reply_text || undefined);
    return {
      id: row.address,
      address: row.address,
      login: row.address,
      maildir: path.resolve(this.mailDir, row.maildir),
      quotaBytes: row.quota_bytes,
      quotaMessages: row.quota_messages,
      maxMessageSize: row.max_message_size,
      status: row.status,
      ...(row.uidl_format ? { uidlFormat: row.uidl_format } : {}),
      ...(delivery ? { delivery } : {}),
    };
  }

  /** Primary address, then alias, then `alice+ext` → `alice`, then a catch-all alias `@domain`. */
  private resolve(address: string): UserRow | undefined {
    const a = normalizeAddress(address);
    const direct = this.q.user.get(a);
    if (direct) return direct;
    const viaAlias = this.q.alias.get(a);
    if (viaAlias) return this.q.user.get(viaAlias.address);
    const at = a.lastIndexOf('@');
    const plus = a.indexOf('+');
    if (plus > 0 && at > plus) {
      const base = a.slice(0, plus) + a.slice(at);
      const row = this.q.user.get(base) ?? this.aliasTarget(base);
      if (row) return row;
    }
    return at >= 0 ? this.aliasTarget(a.slice(at)) : undefined;
  }

  private aliasTarget(alias: string): UserRow | undefined {
    const hit = this.q.alias.get(alias);
    return hit ? this.q.user.get(hit.address) : undefined;
  }

  async lookupRecipient(address: string): Promise<RecipientResult> {
    const row = this.guard('lookup', () => this.resolve(address));
    if (!row) return { kind: 'rejected', text: NO_MAILBOX_TEXT };
    // qmail-ldap bounces mail for disabled and deleted accounts; noaccess still receives.
    if (row.status === 'disabled' || row.status === 'deleted')
      return { kind: 'rejected', text: `Sorry, this mailbox is ${row.status}. (#5.2.1)` };
    return { kind: 'found', account: this.toAccount(row) };
  }

  async authenticate(login: string, password: string): Promise<AuthResult> {
    const row = this.guard('authenticate', () => this.q.user.get(normalizeAddress(login)));
    // Hash even for unknown logins so timing does not tell the two apart.
    const ok = await verifyPassword(password, row?.password || (await dummyHash()));
    if (!row || !ok || !row.password) return { kind: 'failed' };
    if (row.status !== 'active') return { kind: 'refused', status: row.status };
    return { kind: 'ok', account: this.toAccount(row) };
  }

  async accountById(id: string): Promise<Account | null> {
    const row = this.guard('accountById', () => this.q.user.get(id));
    return row ? this.toAccount(row) : null;
  }

  health(): DirectoryHealth {
    return this.lastError ? { ok: false, backend: 'sqlite', detail: this.lastError } : { ok: true, backend: 'sqlite' };
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  // --- Management (roost user …) ---

  async addUser(u: NewUser): Promise<Account> {
    const address = normalizeAddress(u.address);
    const parsed = parseAccountAddress(address);
    if (!parsed) throw new RoostError('BADNAME', `not an acceptable address: ${JSON.stringify(u.address)}`);
    const hash = u.password !== undefined ? await hashPassword(u.password) : '';
    const row: UserRow = {
      address,
      password: hash,
      // Relative to mail_dir, so moving the data directory keeps working.
      maildir: path.join(parsed.domain, parsed.local, 'Maildir'),
      quota_bytes: u.quotaBytes ?? 0,
      quota_messages: u.quotaMessages ?? 0,
      max_message_size: u.maxMessageSize ?? 0,
      status: u.status ?? 'active',
      created: Math.floor(Date.now() / 1000),
      uidl_format: '',
      forwards: '',
      reply_text: '',
    };
    this.guard('add', () => {
      const tx = this.db.transaction(() => {
        if (this.q.user.get(address)) throw new RoostError('EXISTS', `user ${address} exists`);
        if (this.q.alias.get(address)) throw new RoostError('EXISTS', `${address} is an alias`);
        this.db
          .prepare(
            `INSERT INTO users (address, password, maildir, quota_bytes, quota_messages, max_message_size, status, created, uidl_format, forwards, reply_text)
             VALUES (@address, @password, @maildir, @quota_bytes, @quota_messages, @max_message_size, @status, @created, @uidl_format, @forwards, @reply_text)`,
          )
          .run(row);
      });
      tx.immediate();
    });
    return this.toAccount(row);
  }

  async deleteUser(address: string): Promise<void> {
    const a = normalizeAddress(address);
    const changes = this.guard('del', () => this.db.prepare('DELETE FROM users WHERE address = ?').run(a).changes);
    if (changes === 0) throw new RoostError('NOTFOUND', `no user ${a}`);
  }

  async setPassword(address: string, password: string): Promise<void> {
    const a = normalizeAddress(address);
    const hash = await hashPassword(password);
    const changes = this.guard('passwd', () => this.db.prepare('UPDATE users SET password = ? WHERE address = ?').run(hash, a).changes);
    if (changes === 0) throw new RoostError('NOTFOUND', `no user ${a}`);
  }

  async setQuota(address: string, quotaBytes: number, quotaMessages: number): Promise<void> {
    const a = normalizeAddress(address);
    const changes = this.guard('quota', () =>
      this.db.prepare('UPDATE users SET quota_bytes = ?, quota_messages = ? WHERE address = ?').run(quotaBytes, quotaMessages, a).changes,
    );
    if (changes === 0) throw new RoostError('NOTFOUND', `no user ${a}`);
  }

  /** The account's UIDL form (pop3.uidl_format syntax); '' returns it to the config's. */
  async setUidlFormat(address: string, format: string): Promise<void> {
    const a = normalizeAddress(address);
    const changes = this.guard('uidl', () => this.db.prepare('UPDATE users SET uidl_format = ? WHERE address = ?').run(format, a).changes);
    if (changes === 0) throw new RoostError('NOTFOUND', `no user ${a}`);
  }

  /** Add a forwarding target (kept in addition to the Maildir copy); EXISTS when already there. */
  async addForward(address: string, target: string): Promise<void> {
    const a = normalizeAddress(address);
    const t = target.trim();
    const problem = forwardTargetProblem(t);
    if (problem) throw new RoostError('BADNAME', `not an acceptable forwarding address: ${JSON.stringify(target)} (${problem})`);
    this.guard('forward add', () => {
      const tx = this.db.transaction(() => {
        const row = this.q.user.get(a);
        if (!row) throw new RoostError('NOTFOUND', `no user ${a}`);
        const list = forwardList(row);
        if (list.some((f) => f.toLowerCase() === t.toLowerCase())) throw new RoostError('EXISTS', `${a} already forwards to ${t}`);
        if (list.length >= LIMITS.delivery.maxForwards) throw new RoostError('LIMIT', `${a} has ${list.length} forwards, the most allowed`);
        this.db.prepare('UPDATE users SET forwards = ? WHERE address = ?').run([...list, t].join('\n'), a);
      });
      tx.immediate();
    });
  }

  async removeForward(address: string, target: string): Promise<void> {
    const a = normalizeAddress(address);
    const t = target.trim().toLowerCase();
    this.guard('forward del', () => {
      const tx = this.db.transaction(() => {
        const row = this.q.user.get(a);
        if (!row) throw new RoostError('NOTFOUND', `no user ${a}`);
        const list = forwardList(row);
        const rest = list.filter((f) => f.toLowerCase() !== t);
        if (rest.length === list.length) throw new RoostError('NOTFOUND', `${a} does not forward to ${target.trim()}`);
        this.db.prepare('UPDATE users SET forwards = ? WHERE address = ?').run(rest.join('\n'), a);
      });
      tx.immediate();
    });
  }

  /** The account's forwarding targets. */
  async forwardsOf(address: string): Promise<string[]> {
    const a = normalizeAddress(address);
    const row = this.guard('forward list', () => this.q.user.get(a));
    if (!row) throw new RoostError('NOTFOUND', `no user ${a}`);
    return forwardList(row);
  }

  /** Vacation text ('' turns replies off). */
  async setReplyText(address: string, text: string): Promise<void> {
    const a = normalizeAddress(address);
    const changes = this.guard('vacation', () => this.db.prepare('UPDATE users SET reply_text = ? WHERE address = ?').run(text, a).changes);
    if (changes === 0) throw new RoostError('NOTFOUND', `no user ${a}`);
  }

  async setStatus(address: string, status: AccountStatus): Promise<void> {
    const a = normalizeAddress(address);
    const changes = this.guard('status', () => this.db.prepare('UPDATE users SET status = ? WHERE address = ?').run(status, a).changes);
    if (changes === 0) throw new RoostError('NOTFOUND', `no user ${a}`);
  }

  /** `alias` is a full address, or `@domain` for a catch-all. */
  async addAlias(alias: string, address: string): Promise<void> {
    const al = normalizeAddress(alias);
    const target = normalizeAddress(address);
    const okAlias = al.startsWith('@') ? parseAccountAddress(`x${al}`) : parseAccountAddress(al);
    if (!okAlias) throw new RoostError('BADNAME', `not an acceptable alias: ${JSON.stringify(alias)}`);
    this.guard('alias add', () => {
      const tx = this.db.transaction(() => {
        if (!this.q.user.get(target)) throw new RoostError('NOTFOUND', `no user ${target}`);
        if (this.q.user.get(al)) throw new RoostError('EXISTS', `${al} is a user`);
        if (this.q.alias.get(al)) throw new RoostError('EXISTS', `alias ${al} exists`);
        this.db.prepare('INSERT INTO aliases (alias, address) VALUES (?, ?)').run(al, target);
      });
      tx.immediate();
    });
  }

  async removeAlias(alias: string): Promise<void> {
    const al = normalizeAddress(alias);
    const changes = this.guard('alias del', () => this.db.prepare('DELETE FROM aliases WHERE alias = ?').run(al).changes);
    if (changes === 0) throw new RoostError('NOTFOUND', `no alias ${al}`);
  }

  async listUsers(): Promise<UserSummary[]> {
    return this.guard('list', () =>
      this.q.all.all().map((row) => ({
        account: this.toAccount(row),
        aliases: this.q.aliasesOf.all(row.address).map((r) => r.alias),
        hasPassword: row.password !== '',
      })),
    );
  }
  // --- Replication: the directory follows the journal (src/accounts/journaled.ts) ---

  /** The rows behind these keys as changes; a missing row becomes a delete. */
  currentState(keys: { users?: readonly string[]; aliases?: readonly string[] }): DirectoryChange[] {
    return this.guard('state', () => [
      ...(keys.users ?? []).map((address): DirectoryChange => {
        const user = this.q.user.get(address);
        return user ? { op: 'user-put', user } : { op: 'user-del', address };
      }),
      ...(keys.aliases ?? []).map((alias): DirectoryChange => {
        const hit = this.q.alias.get(alias);
        return hit ? { op: 'alias-put', alias, address: hit.address } : { op: 'alias-del', alias };
      }),
    ]);
  }

  /** Every user, then every alias: what a journal that never saw this directory is seeded with. */
  snapshot(): DirectoryChange[] {
    return this.guard('snapshot', () => [
      ...this.q.all.all().map((user): DirectoryChange => ({ op: 'user-put', user })),
      ...(this.db.prepare('SELECT alias, address FROM aliases ORDER BY alias').all() as { alias: string; address: string }[]).map(
        (r): DirectoryChange => ({ op: 'alias-put', alias: r.alias, address: r.address }),
      ),
    ]);
  }

  /** Apply journaled changes idempotently and remember `lsn` as applied, in one transaction. */
  applyChanges(changes: readonly DirectoryChange[], lsn: bigint): void {
    const putUser = this.db.prepare(
      `INSERT INTO users (address, password, maildir, quota_bytes, quota_messages, max_message_size, status, created, uidl_format, forwards, reply_text)
       VALUES (@address, @password, @maildir, @quota_bytes, @quota_messages, @max_message_size, @status, @created, @uidl_format, @forwards, @reply_text)
       ON CONFLICT(address) DO UPDATE SET password = excluded.password, maildir = excluded.maildir,
         quota_bytes = excluded.quota_bytes, quota_messages = excluded.quota_messages,
         max_message_size = excluded.max_message_size, status = excluded.status, created = excluded.created,
         uidl_format = excluded.uidl_format, forwards = excluded.forwards, reply_text = excluded.reply_text`,
    );
    // An alias whose user is missing here (a diverged copy) is skipped rather than breaking the foreign key.
    const putAlias = this.db.prepare(
      `INSERT INTO aliases (alias, address) SELECT @alias, @address WHERE EXISTS (SELECT 1 FROM users WHERE address = @address)
       ON CONFLICT(alias) DO UPDATE SET address = excluded.address`,
    );
    this.guard('apply', () =>
      this.db.transaction(() => {
        for (const c of changes) {
          if (c.op === 'user-put') {
            this.db.prepare('DELETE FROM aliases WHERE alias = ?').run(c.user.address);
            // Records journaled before a column existed carry no value for it.
            putUser.run({ ...c.user, uidl_format: c.user.uidl_format ?? '', forwards: c.user.forwards ?? '', reply_text: c.user.reply_text ?? '' });
          } else if (c.op === 'user-del') this.db.prepare('DELETE FROM users WHERE address = ?').run(c.address);
          else if (c.op === 'alias-put') putAlias.run({ alias: c.alias, address: c.address });
          else this.db.prepare('DELETE FROM aliases WHERE alias = ?').run(c.alias);
        }
        this.setMeta('journal_lsn', lsn.toString());
      })(),
    );
  }

  exportState(): DirectoryChange[] {
    return this.snapshot();
  }

  /** Replace every user and alias with `state` (puts from snapshot()), in one transaction. */
  replaceState(state: unknown[], lsn: bigint): void {
    const changes = state as DirectoryChange[];
    if (!changes.every((c) => c && (c.op === 'user-put' || c.op === 'alias-put'))) throw new Error('directory state: only user-put and alias-put entries');
    this.guard('replace', () =>
      this.db.transaction(() => {
        this.db.prepare('DELETE FROM aliases').run();
        this.db.prepare('DELETE FROM users').run();
        this.applyChanges(changes, lsn);
      })(),
    );
  }

  /** LSN of the last 'account' journal record applied here (0 when none). */
  journalLsn(): bigint {
    return BigInt(this.meta('journal_lsn') ?? '0');
  }

  meta(key: string): string | null {
    return this.guard('meta', () => (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value ?? null);
  }

  setMeta(key: string, value: string): void {
    this.guard('meta', () => this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value));
  }

  /**
   * Run `fn` inside one write transaction held across its awaits, so a change
   * and the journal record describing it commit together or not at all (the
   * management methods' own transactions nest as savepoints). Callers
   * serialise: one connection has one transaction.
   */
  async inWriteTransaction<T>(fn: () => Promise<T>): Promise<T> {
    this.guard('begin', () => this.db.exec('BEGIN IMMEDIATE'));
    try {
      const v = await fn();
      this.guard('commit', () => this.db.exec('COMMIT'));
      return v;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }
}


/** A valid hash of a random password, checked against when the login is unknown. */
let dummy: Promise<string> | null = null;
const dummyHash = (): Promise<string> => (dummy ??= hashPassword(Math.random().toString(36)));

export function openSqliteDirectory(dataDir: string, mailDir: string): SqliteDirectory {
  return new SqliteDirectory(path.join(dataDir, 'accounts.sqlite'), mailDir);
}
