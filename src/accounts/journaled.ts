/**
 * The embedded directory under replication: embedded-directory
 * account changes (users, aliases, passwords) are in the stream.
 *
 * Every management change runs inside one accounts.sqlite write transaction
 * that also journals the rows it produced (full rows, password hashes only)
 * as an 'account' record, and commits only after the record is durable: a
 * crash leaves either both or, at worst, a journaled record the directory has
 * not applied yet, which catchUp() applies at the next start. The journal is
 * the commit point, as for mail.
 *
 * Replication ships these records like any other; the replica's store
 * announces them through onJournal and follow() upserts or deletes the rows
 * in its own accounts.sqlite before the replica acknowledges. A full resync
 * replays the journal from LSN 1, accounts included; seed() puts the users
 * that existed before the journal knew about them (older data directories)
 * into it once.
 *
 * One writer per data directory: with a node running, `roost user …` sends
 * its change over the control socket (like `roost deliver`) instead of
 * appending to the journal from a second process, because the primary ships
 * only what its own store announced and would otherwise not see the record
 * until something else woke it; without a node the CLI opens the store itself.
 */
import type { ChangeLog } from '../store/journal/change-log.js';
import type { DirectoryChange as JournaledChange, JournalRecord, RecordOf } from '../store/journal/records.js';
import { RoostError } from '../errors.js';
import { LIMITS } from '../limits.js';
import { compileUidlFormat } from './uidl-format.js';
import type { Account, AccountStatus } from './directory.js';
import { normalizeAddress } from './address.js';
import type { DirectoryChange, SqliteDirectory } from './sqlite.js';

/** What this module needs: the change log, and (on a replica) a way to make an account known to the mail store. */
export type AccountJournal = ChangeLog & { user(account: Account): unknown };

export type UserOp =
  | { op: 'add'; address: string; password?: string; quotaBytes?: number; quotaMessages?: number }
  | { op: 'del'; address: string }
  | { op: 'passwd'; address: string; password: string }
  | { op: 'quota'; address: string; quotaBytes: number; quotaMessages: number }
  | { op: 'status'; address: string; status: AccountStatus }
  | { op: 'uidl'; address: string; format: string }
  | { op: 'alias-add'; alias: string; address: string }
  | { op: 'alias-del'; alias: string }
  | { op: 'forward-add'; address: string; target: string }
  | { op: 'forward-del'; address: string; target: string }
  /** Vacation text; '' turns replies off (`roost user vacation off`). */
  | { op: 'vacation'; address: string; text: string };

const SEEDED_KEY = 'journal_seeded';
const STATUSES: readonly AccountStatus[] = ['active', 'noaccess', 'disabled', 'deleted'];

/** Control-socket arguments to a UserOp (typed at the edge). */
export function parseUserOp(args: Record<string, unknown>): UserOp {
  const str = (k: string): string => {
    const v = args[k];
    if (typeof v !== 'string' || v === '') throw new RoostError('LIMIT', `user: "${k}" must be a non-empty string`);
    return v;
  };
  const count = (k: string): number => {
    const v = args[k] ?? 0;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new RoostError('LIMIT', `user: "${k}" must be a count`);
    return v;
  };
  switch (args.op) {
    case 'add':
      return {
        op: 'add',
        address: str('address'),
        ...(args.password !== undefined ? { password: str('password') } : {}),
        quotaBytes: count('quotaBytes'),
        quotaMessages: count('quotaMessages'),
      };
    case 'del':
      return { op: 'del', address: str('address') };
    case 'passwd':
      return { op: 'passwd', address: str('address'), password: str('password') };
    case 'quota':
      return { op: 'quota', address: str('address'), quotaBytes: count('quotaBytes'), quotaMessages: count('quotaMessages') };
    case 'status': {
      const status = str('status') as AccountStatus;
      if (!STATUSES.includes(status)) throw new RoostError('LIMIT', `user: unknown status ${JSON.stringify(status)}`);
      return { op: 'status', address: str('address'), status };
    }
    case 'uidl': {
      const format = args.format;
      if (typeof format !== 'string') throw new RoostError('LIMIT', 'user: "format" must be a string');
      if (format !== '') {
        try {
          compileUidlFormat(format);
        } catch (err) {
          throw new RoostError('LIMIT', `user: uidl format: ${(err as Error).message}`);
        }
      }
      return { op: 'uidl', address: str('address'), format };
    }
    case 'alias-add':
      return { op: 'alias-add', alias: str('alias'), address: str('address') };
    case 'alias-del':
      return { op: 'alias-del', alias: str('alias') };
    case 'forward-add':
    case 'forward-del':
      return { op: args.op, address: str('address'), target: str('target') };
    case 'vacation': {
      const text = args.text;
      if (typeof text !== 'string') throw new RoostError('LIMIT', 'user: "text" must be a string');
      if (Buffer.byteLength(text, 'utf8') > LIMITS.delivery.maxReplyTextBytes)
        throw new RoostError('LIMIT', `user: vacation text is longer than ${LIMITS.delivery.maxReplyTextBytes} bytes`);
      return { op: 'vacation', address: str('address'), text };
    }
    default:
      throw new RoostError('LIMIT', `user: unknown op ${JSON.stringify(args.op)}`);
  }
}

/** The directory changes of a record (checked when it was decoded); columns a record predates are empty. */
function changesOf(rec: RecordOf<'account'>): DirectoryChange[] {
  return (rec.data.changes ?? []).map((c: JournaledChange): DirectoryChange => {
    if (c.op !== 'user-put') return { ...c };
    const u = c.user;
    return { op: 'user-put', user: { ...u, uidl_format: u.uidl_format ?? '', forwards: u.forwards ?? '', reply_text: u.reply_text ?? '' } };
  });
}

export class JournaledDirectory {
  private chain: Promise<unknown> = Promise.resolve();

  /**
   * `registerAccounts()` true (a replica): each user a record puts is made
   * known to the store with this node's Maildir path, so the primary's
   * deliveries for it land under this node's mail_dir (records carry the
   * primary's absolute path, which is only a fallback for unknown accounts).
   */
  constructor(
    readonly dir: SqliteDirectory,
    private readonly store: AccountJournal,
    private readonly registerAccounts: () => boolean = () => false,
  ) {}

  /** One change at a time: the directory connection holds one transaction. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Run a management change and journal its outcome; returns what the CLI prints. */
  run(op: UserOp): Promise<{ address: string; maildir?: string }> {
    return this.serial(() =>
      this.dir.inWriteTransaction(async () => {
        const { result, users, aliases } = await this.perform(op);
        const changes = this.dir.currentState({ users, aliases });
        const lsn = await this.store.journalAccountChange(users[0] ?? aliases[0] ?? '', { changes });
        this.dir.applyChanges(changes, lsn);
        return result;
      }),
    );
  }

  private async perform(op: UserOp): Promise<{ result: { address: string; maildir?: string }; users: string[]; aliases: string[] }> {
    const d = this.dir;
    switch (op.op) {
      case 'add': {
        const a = await d.addUser(op);
        return { result: { address: a.address, maildir: a.maildir }, users: [a.address], aliases: [] };
      }
      case 'del':
        await d.deleteUser(op.address);
        break;
      case 'passwd':
        await d.setPassword(op.address, op.password);
        break;
      case 'quota':
        await d.setQuota(op.address, op.quotaBytes, op.quotaMessages);
        break;
      case 'status':
        await d.setStatus(op.address, op.status);
        break;
      case 'uidl':
        await d.setUidlFormat(op.address, op.format);
        break;
      case 'forward-add':
        await d.addForward(op.address, op.target);
        break;
      case 'forward-del':
        await d.removeForward(op.address, op.target);
        break;
      case 'vacation':
        await d.setReplyText(op.address, op.text);
        break;
      case 'alias-add': {
        await d.addAlias(op.alias, op.address);
        const alias = normalizeAddress(op.alias);
        return { result: { address: alias }, users: [], aliases: [alias] };
      }
      case 'alias-del': {
        await d.removeAlias(op.alias);
        const alias = normalizeAddress(op.alias);
        return { result: { address: alias }, users: [], aliases: [alias] };
      }
    }
    const address = normalizeAddress(op.address);
    return { result: { address }, users: [address], aliases: [] };
  }

  /** Apply journaled 'account' records the directory has not seen (crash between journal and directory commit, resync). */
  async catchUp(): Promise<number> {
    let after = this.dir.journalLsn();
    // The journal was emptied (replica full resync): everything again, in order.
    if (after > this.store.lastLsn()) after = 0n;
    let n = 0;
    for (let step = 0; step < 1_000_000; step++) {
      const recs = await this.store.readAccountRecords(after, LIMITS.replication.readBatch);
      for (const r of recs) this.apply(r);
      n += recs.length;
      if (recs.length < LIMITS.replication.readBatch) break;
      after = recs[recs.length - 1]!.lsn;
    }
    return n;
  }

  /** Apply 'account' records as the store announces them (a replica applying the primary's stream). Returns unsubscribe. */
  follow(onError: (err: unknown, rec: JournalRecord) => void): () => void {
    return this.store.onJournal((records) => {
      for (const r of records) {
        if (r.kind !== 'account') continue;
        try {
          this.apply(r);
        } catch (err) {
          // catchUp() at the next start applies it (the journal has it).
          onError(err, r);
        }
      }
    });
  }

  private apply(rec: RecordOf<'account'>): void {
    const changes = changesOf(rec);
    this.dir.applyChanges(changes, rec.lsn);
    if (this.registerAccounts()) for (const c of changes) if (c.op === 'user-put') this.store.user(this.dir.toAccount(c.user));
    // A directory fed by a primary shares its history: nothing to seed if promoted later.
    if (this.dir.meta(SEEDED_KEY) === null) this.dir.setMeta(SEEDED_KEY, rec.lsn.toString());
  }

  /**
   * Once per directory, on a writable node: journal every user and alias that
   * exists, so a replica (and a full resync) gets accounts created before the
   * directory was journaled or while no journal existed. Returns the count.
   */
  seed(): Promise<number> {
    return this.serial(async () => {
      if (this.dir.meta(SEEDED_KEY) !== null) return 0;
      return this.dir.inWriteTransaction(async () => {
        const all = this.dir.snapshot();
        let lsn = this.store.lastLsn();
        for (let i = 0; i < all.length; i += LIMITS.replication.accountSeedBatch) {
          const changes = all.slice(i, i + LIMITS.replication.accountSeedBatch);
          const first = changes[0]!;
          lsn = await this.store.journalAccountChange(first.op === 'user-put' ? first.user.address : '', { changes });
          this.dir.applyChanges(changes, lsn);
        }
        this.dir.setMeta(SEEDED_KEY, lsn.toString());
        return all.length;
      });
    });
  }
}
