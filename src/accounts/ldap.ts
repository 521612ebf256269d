/**
 * The `ldap` directory backend: reads accounts kept in LDAP with the
 * qmail-ldap schema (qmail.schema, QLDAPINSTALL; contrib/ldap/README.md), as the sites Roost replaces have them.
 *
 * Recipients: `(|(mail=A)(mailAlternateAddress=A))` (optionally wrapped in
 * `(&(objectClass=X)…)`), then `catchall@domain`, as qmail-ldap's
 * qldap-filter.c and qmail-lspawn do; exactly one entry must match.
 * Logins: `uid` (and the mail address if login_by_mail); the password is
 * checked by binding as the entry's DN (default) or by reading userPassword
 * with the service account and verifying it locally (schemes.ts).
 *
 * Every failure to get an answer from the server (refused connection, reset,
 * timeout, busy/unavailable) is thrown as RoostError('UNAVAILABLE'): callers
 * turn it into QMQP Z, POP3 -ERR [SYS/TEMP], IMAP NO [UNAVAILABLE], never
 * into "no such user" or "wrong password".
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { Entry } from 'ldapts';
import { Attribute, Change, InvalidCredentialsError } from 'ldapts';
import type { Config } from '../config/schema.js';
import { RoostError, isRoostError } from '../errors.js';
import { LIMITS } from '../limits.js';
import { logger, type Logger } from '../log/logger.js';
import { normalizeAddress } from './address.js';
import type { Account, AuthenticateOptions, AuthResult, Directory, DirectoryHealth, RecipientResult } from './directory.js';
import { entryToAccount, parseStatus, rawValues, values, type EntryPolicy } from './ldap-entry.js';
import { LdapPool, isAnswer } from './ldap-pool.js';
import { directoryCacheHits, directoryErrors, directoryLookups, directoryUp } from './metrics.js';
import { verifyPassword } from './schemes.js';
import { SeenOnce } from '../log/seen-once.js';

export type LdapConfig = Config['directory']['ldap'];

/** qmail-ldap's texts (QLDAPINSTALL, accountStatus); 4.x variants where Roost defers instead of bouncing. */
export const TEXTS = {
  noMailbox: 'Sorry, no mailbox here by that name. (#5.1.1)',
  disabled: 'Mailaddress is administratively disabled. (#5.2.1)',
  ambiguous: 'Too many results returned but needs to be unique. (#4.3.5)',
  badEntry: 'Mailbox entry in the directory is not usable. (#4.3.5)',
  otherHostDefer: 'This mailbox is served by another mail host. (#4.3.2)',
  otherHostBounce: 'This mailbox is served by another mail host. (#5.3.2)',
} as const;

/** RFC 4515 §3: escape the assertion value; `\`, `*`, `(`, `)` and NUL become \XX. */
export function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\x00]/g, (c) => '\\' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}

/** Put the escaped value into every %s of a filter template. */
export function fillFilter(template: string, value: string): string {
  const escaped = escapeFilterValue(value);
  return template.replace(/%s/g, () => escaped);
}

const hasControl = (s: string): boolean => /[\x00-\x1f\x7f]/.test(s);

interface CacheEntry {
  expires: number;
  result: RecipientResult;
}

/** Insertion-ordered map as a bounded cache: expired or oldest entries go first. */
export class TtlCache {
  private readonly map = new Map<string, CacheEntry>();
  constructor(private readonly ttlMs: number) {}

  get(key: string, now: number): RecipientResult | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expires <= now) {
      this.map.delete(key);
      return undefined;
    }
    return e.result;
  }

  set(key: string, result: RecipientResult, now: number): void {
    if (this.ttlMs <= 0) return;
    this.map.delete(key);
    if (this.map.size >= LIMITS.ldap.maxCacheEntries) this.map.delete(this.map.keys().next().value!);
    this.map.set(key, { expires: now + this.ttlMs, result });
  }

  clear(): void {
    this.map.clear();
  }
}

export interface LdapDirectoryOptions {
  /** Base for relative mailMessageStore values when message_store_base is empty (config paths.mailDir). */
  mailDir: string;
  log?: Logger;
}

export class LdapDirectory implements Directory {
  readonly backend = 'ldap' as const;
  private readonly pool: LdapPool;
  private readonly authPool: LdapPool;
  private readonly log: Logger;
  private readonly policy: EntryPolicy;
  private readonly recipientFilter: string;
  private readonly loginFilter: string;
  private readonly positive: TtlCache;
  private readonly negative: TtlCache;
  private up = true;
  private detail = 'not contacted yet';
  private probeTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly inFlight = new Map<string, Promise<RecipientResult>>();
  private readonly multiServer: boolean;
  /** Accounts whose unsupported attributes were logged already (noteOnce). */
  private readonly noted = new SeenOnce(LIMITS.ldap.maxCacheEntries);
  private readonly common: Omit<ConstructorParameters<typeof LdapPool>[0], 'size' | 'bindDn' | 'bindPassword'>;
  /** One connection bound as write_bind_dn, made at the first mailHost change. */
  private writePool: LdapPool | null = null;

  constructor(
    private readonly cfg: LdapConfig,
    opts: LdapDirectoryOptions,
  ) {
    // Several servers, separated by spaces, are tried in turn (as OpenLDAP's ldap.conf URI).
    const urls = cfg.url.split(/\s+/).filter((u) => u !== '');
    if (urls.length === 0 || urls.some((u) => !/^ldaps?:\/\/[^/\s]+\/?$/i.test(u)))
      throw new Error(`directory.ldap.url: expected ldap://host[:port] or ldaps://host[:port] (several separated by spaces), got ${JSON.stringify(cfg.url)}`);
    this.multiServer = urls.length > 1;
    this.log = (opts.log ?? logger()).child({ directory: 'ldap' });
    const tls: ConnectionOptions = { rejectUnauthorized: cfg.tls_verify };
    if (cfg.ca_file !== '') {
      try {
        tls.ca = readFileSync(cfg.ca_file);
      } catch (err) {
        throw new Error(`directory.ldap.ca_file: cannot read ${cfg.ca_file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
      }
    }
    const common = { urls, timeoutMs: cfg.timeout_ms, starttls: cfg.starttls, tls };
    this.common = common;
    this.pool = new LdapPool({ ...common, size: cfg.pool_size, bindDn: cfg.bind_dn, bindPassword: cfg.bind_password });
    // User binds change a connection's identity, so they get their own connections.
    this.authPool = new LdapPool({ ...common, size: cfg.auth_pool_size, bindDn: '', bindPassword: '' });
    const attrs = {
      mail: cfg.attr_mail,
      alternate: cfg.attr_alternate,
      uid: cfg.attr_uid,
      password: cfg.attr_password,
      store: cfg.attr_message_store,
      home: cfg.attr_home,
      quotaSize: cfg.attr_quota_size,
      quotaCount: cfg.attr_quota_count,
      sizeMax: cfg.attr_size_max,
      status: cfg.attr_status,
      host: cfg.attr_host,
      uidlFormat: cfg.attr_uidl_format,
      forwards: cfg.attr_forwarding_address,
      deliveryMode: cfg.attr_delivery_mode,
      replyText: cfg.attr_reply_text,
      program: cfg.attr_program,
    };
    this.policy = {
      attrs,
      base: cfg.message_store_base !== '' ? cfg.message_store_base : opts.mailDir,
      allowedPrefixes: cfg.allowed_store_prefixes,
      defaultQuotaBytes: cfg.default_quota_bytes,
      defaultQuotaMessages: cfg.default_quota_messages,
    };
    const withClass = (f: string) => (cfg.object_class !== '' ? `(&(objectClass=${escapeFilterValue(cfg.object_class)})${f})` : f);
    this.recipientFilter = withClass(cfg.recipient_filter || `(|(${attrs.mail}=%s)(${attrs.alternate}=%s))`);
    const byUid = cfg.login_filter || `(${attrs.uid}=%s)`;
    this.loginFilter = withClass(cfg.login_by_mail ? `(|${byUid}(${attrs.mail}=%s))` : byUid);
    this.positive = new TtlCache(cfg.cache_ttl_ms);
    this.negative = new TtlCache(cfg.negative_cache_ttl_ms);
    directoryUp.set({ backend: 'ldap' }, 1);
    // Find out now whether the directory answers, so /health is right before the first delivery.
    void this.probe();
  }

  private get attributes(): string[] {
    const a = this.policy.attrs;
    const out = [a.mail, a.uid, a.store, a.home, a.quotaSize, a.quotaCount, a.sizeMax, a.status, a.host];
    for (const x of [a.uidlFormat, a.forwards, a.deliveryMode, a.replyText, a.program]) if (x) out.push(x);
    return out;
  }

  /** Search under base; a fault becomes UNAVAILABLE (and marks the directory down). */
  private async search(filter: string, op: string, withPassword = false): Promise<Entry[]> {
    const attributes = withPassword ? [...this.attributes, this.policy.attrs.password] : this.attributes;
    const once = () =>
      this.pool.with((c) =>
        c.search(this.cfg.base, {
          scope: this.cfg.scope as 'base' | 'one' | 'sub',
          filter,
          attributes,
          sizeLimit: LIMITS.ldap.maxSearchResults,
          timeLimit: Math.max(1, Math.ceil(this.cfg.timeout_ms / 1000)),
          explicitBufferAttributes: withPassword ? [this.policy.attrs.password] : [],
        }),
      );
    try {
      let res;
      try {
        res = await once();
      } catch (err) {
        // A search is safe to repeat: with several servers, a connection that broke gets one more try elsewhere.
        if (!this.multiServer || isAnswer(err)) throw err;
        res = await once();
      }
      this.markUp();
      return res.searchEntries;
    } catch (err) {
      throw this.fault(err, op);
    }
  }

  /** Record a failure to get an answer and turn it into the one error callers handle. */
  private fault(err: unknown, op: string): RoostError {
    if (isRoostError(err)) return err;
    directoryErrors.inc({ backend: 'ldap', op });
    const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    // Once per outage at warn level; while it lasts, every failed request would flood the log.
    if (this.up) this.log.warn({ op, err: why }, 'LDAP directory unavailable');
    else this.log.debug({ op, err: why }, 'LDAP directory still unavailable');
    this.markDown(why);
    return new RoostError('UNAVAILABLE', `directory unavailable: ${why}`, { cause: err });
  }

  private markUp(): void {
    if (!this.up) this.log.info('LDAP directory reachable again');
    this.up = true;
    this.detail = `ok: ${this.cfg.url}`;
    directoryUp.set({ backend: 'ldap' }, 1);
    if (this.probeTimer) {
      clearInterval(this.probeTimer);
      this.probeTimer = null;
    }
  }

  private markDown(why: string): void {
    this.up = false;
    this.detail = `unreachable: ${this.cfg.url}: ${why}`;
    directoryUp.set({ backend: 'ldap' }, 0);
    if (this.probeTimer || this.closed) return;
    // Probe in the background so /health turns green again without waiting for traffic.
    this.probeTimer = setInterval(() => void this.probe(), LIMITS.ldap.probeIntervalMs);
    this.probeTimer.unref();
  }

  /** One base-object search; any LDAP answer (even noSuchObject) means the server is there. */
  private async probe(): Promise<void> {
    try {
      await this.pool.with((c) => c.search(this.cfg.base, { scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] }));
      this.markUp();
    } catch (err) {
      if (this.closed) return;
      if (isAnswer(err)) this.markUp();
      else {
        if (this.up) this.log.warn({ err: String(err) }, 'LDAP directory unavailable');
        this.markDown(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
      }
    }
  }

  async lookupRecipient(address: string): Promise<RecipientResult> {
    const key = normalizeAddress(address);
    const now = Date.now();
    const hit = this.positive.get(key, now) ?? this.negative.get(key, now);
    if (hit) {
      directoryCacheHits.inc({ backend: 'ldap', cache: hit.kind === 'found' ? 'positive' : 'negative' });
      directoryLookups.inc({ backend: 'ldap', kind: 'recipient', result: hit.kind });
      return hit;
    }
    let result: RecipientResult;
    try {
      // Concurrent lookups of one address (a burst of mail to one user) share one search.
      let pending = this.inFlight.get(key);
      if (!pending) {
        pending = this.resolveRecipient(key).finally(() => this.inFlight.delete(key));
        this.inFlight.set(key, pending);
      }
      result = await pending;
    } catch (err) {
      directoryLookups.inc({ backend: 'ldap', kind: 'recipient', result: 'unavailable' });
      throw err;
    }
    directoryLookups.inc({ backend: 'ldap', kind: 'recipient', result: result.kind });
    // Entries (found, or rejected for their status) are positive; "no such address" is negative;
    // an ambiguous or broken entry is not cached, so a fix in the directory shows at once.
    if (result.kind === 'found' || (result.kind === 'rejected' && result.text !== TEXTS.noMailbox)) this.positive.set(key, result, now);
    else if (result.kind === 'rejected') this.negative.set(key, result, now);
    return result;
  }

  private async resolveRecipient(key: string): Promise<RecipientResult> {
    // A NUL ends the value inside the server (a trailing "\00" matched the entry without it in
    // tests against slapd), and no address holds control characters: such values never reach the server.
    if (hasControl(key) || key.length > LIMITS.qmqp.maxAddressLength) return { kind: 'rejected', text: TEXTS.noMailbox };
    let entries = await this.search(fillFilter(this.recipientFilter, key), 'recipient');
    const at = key.lastIndexOf('@');
    if (entries.length === 0 && this.cfg.catchall && at > 0 && key.slice(0, at) !== 'catchall') {
      entries = await this.search(fillFilter(this.recipientFilter, `catchall${key.slice(at)}`), 'recipient');
    }
    if (entries.length === 0) return { kind: 'rejected', text: TEXTS.noMailbox };
    if (entries.length > 1) {
      this.log.warn({ address: key, dns: entries.map((e) => e.dn) }, 'recipient matches several LDAP entries');
      return { kind: 'deferred', text: TEXTS.ambiguous };
    }
    const entry = entries[0]!;
    const status = parseStatus(values(entry, this.policy.attrs.status)[0]);
    if (status === 'disabled') return { kind: 'rejected', text: TEXTS.disabled };
    if (status === 'deleted') return { kind: 'rejected', text: TEXTS.noMailbox };
    const v = entryToAccount(entry, this.policy);
    if (!v.ok) {
      this.log.error({ address: key, dn: entry.dn, problem: v.error }, 'LDAP entry refused');
      return { kind: 'deferred', text: TEXTS.badEntry };
    }
    this.noteOnce(v.account.id, entry.dn, v.program, v.unknownModes);
    if (this.isOtherHost(v.host)) {
      this.log.info({ address: key, dn: entry.dn, mailHost: v.host }, 'recipient lives on another mailHost');
      if (this.cfg.other_host === 'bounce') return { kind: 'rejected', text: TEXTS.otherHostBounce };
      // "forward": final delivery hands it to that host (src/delivery/cluster.ts); every other caller defers.
      if (this.cfg.other_host === 'forward') return { kind: 'deferred', text: TEXTS.otherHostDefer, mailHost: v.host!.trim().toLowerCase() };
      return { kind: 'deferred', text: TEXTS.otherHostDefer };
    }
    return { kind: 'found', account: v.account };
  }

  /**
   * What an entry asks for that Roost does not do, logged once per account
   * (per process): deliveryProgramPath (out of scope, README) and deliveryMode
   * values qmail-local would warn about. The set is bounded like the cache.
   */
  private noteOnce(id: string, dn: string, program: boolean, unknownModes: readonly string[]): void {
    if ((!program && unknownModes.length === 0) || !this.noted.first(id)) return;
    if (program) this.log.warn({ account: id, dn }, `${this.policy.attrs.program} is set but Roost runs no delivery programs: ignored`);
    if (unknownModes.length > 0) this.log.warn({ account: id, dn, values: unknownModes }, `undefined ${this.policy.attrs.deliveryMode} value ignored`);
  }

  /** qmail-ldap: mailHost must equal this host's control/me; an entry without mailHost is local. */
  private isOtherHost(host: string | undefined): boolean {
    return this.cfg.mail_host !== '' && host !== undefined && host.trim().toLowerCase() !== this.cfg.mail_host.toLowerCase();
  }

  async authenticate(login: string, password: string, options: AuthenticateOptions = {}): Promise<AuthResult> {
    let result: AuthResult;
    try {
      result = await this.checkLogin(login, password, options.anyHost === true);
    } catch (err) {
      directoryLookups.inc({ backend: 'ldap', kind: 'login', result: 'unavailable' });
      throw err;
    }
    directoryLookups.inc({ backend: 'ldap', kind: 'login', result: result.kind });
    return result;
  }

  private async checkLogin(login: string, password: string, anyHost: boolean): Promise<AuthResult> {
    // RFC 4513 §5.1.2: a simple bind with a DN and an empty password is an unauthenticated
    // bind that many servers accept, so an empty password never reaches the server.
    if (password === '' || login === '') return { kind: 'failed' };
    if (password.length > LIMITS.auth.maxPasswordLength || login.length > LIMITS.auth.maxLoginLength) return { kind: 'failed' };
    if (hasControl(login)) return { kind: 'failed' };
    const compare = this.cfg.auth_mode === 'compare';
    const entries = await this.search(fillFilter(this.loginFilter, login), 'login', compare);
    if (entries.length !== 1) {
      if (entries.length > 1) this.log.warn({ login, dns: entries.map((e) => e.dn) }, 'login matches several LDAP entries');
      return { kind: 'failed' };
    }
    const entry = entries[0]!;
    const good = compare ? await this.compareLocally(entry, password) : await this.bindAs(entry.dn, password);
    if (!good) return { kind: 'failed' };
    const status = parseStatus(values(entry, this.policy.attrs.status)[0]);
    if (status !== 'active') return { kind: 'refused', status };
    const v = entryToAccount(entry, this.policy);
    if (!v.ok) {
      this.log.error({ login, dn: entry.dn, problem: v.error }, 'LDAP entry refused');
      throw new RoostError('TEMP', `directory entry not usable: ${v.error}`);
    }
    if (!anyHost && this.isOtherHost(v.host)) throw new RoostError('TEMP', `account lives on mailHost ${v.host}`);
    return { kind: 'ok', account: v.host === undefined ? v.account : { ...v.account, mailHost: v.host.trim().toLowerCase() } };
  }

  private async compareLocally(entry: Entry, password: string): Promise<boolean> {
    const hashes = rawValues(entry, this.policy.attrs.password);
    // Without a readable userPassword every login of this entry fails: tell the operator why.
    if (hashes.length === 0) this.log.warn({ dn: entry.dn }, 'compare mode: no userPassword readable (ACL, or none set)');
    for (const hash of hashes) {
      if (await verifyPassword(hash, password)) return true;
    }
    return false;
  }

  /** Bind as the user; invalidCredentials (49) is the only "no". */
  private async bindAs(dn: string, password: string): Promise<boolean> {
    try {
      await this.authPool.with((c) => c.bind(dn, password));
      this.markUp();
      return true;
    } catch (err) {
      if (err instanceof InvalidCredentialsError) {
        this.markUp();
        return false;
      }
      throw this.fault(err, 'bind');
    }
  }

  async accountById(id: string): Promise<Account | null> {
    if (hasControl(id)) return null;
    const filter = fillFilter(
      this.cfg.object_class !== ''
        ? `(&(objectClass=${escapeFilterValue(this.cfg.object_class)})(${this.policy.attrs.mail}=%s))`
        : `(${this.policy.attrs.mail}=%s)`,
      id,
    );
    const entries = await this.search(filter, 'id');
    directoryLookups.inc({ backend: 'ldap', kind: 'id', result: entries.length === 1 ? 'found' : 'rejected' });
    if (entries.length !== 1) return null;
    const v = entryToAccount(entries[0]!, this.policy);
    return v.ok ? v.account : null;
  }

  /**
   * Replace the entry's mailHost (RFC 4511 §4.6, a replace of one value), bound
   * as directory.ldap.write_bind_dn; the entry is the one the address finds
   * without the catch-all. The caches are dropped, so this node's next lookup
   * sees the new host.
   */
  async setMailHost(address: string, mailHost: string): Promise<{ dn: string }> {
    if (this.cfg.write_bind_dn === '') throw new RoostError('NOPERM', 'directory.ldap.write_bind_dn is not set: no credentials to change the entry');
    const key = normalizeAddress(address);
    if (hasControl(key) || key.length > LIMITS.qmqp.maxAddressLength) throw new RoostError('NOTFOUND', `${address}: not an address`);
    const entries = await this.search(fillFilter(this.recipientFilter, key), 'recipient');
    if (entries.length !== 1) throw new RoostError('NOTFOUND', `${address}: ${entries.length} LDAP entries match; expected one`);
    const dn = entries[0]!.dn;
    this.writePool ??= new LdapPool({ ...this.common, size: 1, bindDn: this.cfg.write_bind_dn, bindPassword: this.cfg.write_bind_password });
    const change = new Change({ operation: 'replace', modification: new Attribute({ type: this.policy.attrs.host, values: [mailHost] }) });
    try {
      // A replace is safe to repeat should the pool retry it on a fresh connection.
      await this.writePool.with((c) => c.modify(dn, change));
    } catch (err) {
      throw new RoostError('UNAVAILABLE', `LDAP modify of ${dn}: ${(err as Error).message}`);
    }
    this.clearCache();
    this.log.warn({ dn, mailHost }, 'account move: mailHost changed in the directory');
    return { dn };
  }

  /** Forget cached answers (tests, and `roost user show` when it must see the directory as it is now). */
  clearCache(): void {
    this.positive.clear();
    this.negative.clear();
  }

  health(): DirectoryHealth {
    return { ok: this.up, backend: 'ldap', detail: this.detail };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = null;
    await Promise.all([this.pool.close(), this.authPool.close(), this.writePool?.close()]);
  }
}

/** Factory that src/node.ts loads when directory.backend = "ldap". */
export function createLdapDirectory(config: Config, log: Logger): Directory {
  return new LdapDirectory(config.directory.ldap, { mailDir: config.paths.mailDir, log });
}
