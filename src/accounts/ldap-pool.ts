/**
 * A small pool of ldapts connections. Each connection is set up once
 * (connect, optional StartTLS per RFC 4513 §3, optional bind as the service
 * account) and reused. A connection that failed at the transport level, timed
 * out, or was closed by the server is thrown away; the next request builds a
 * new one, so a restarted server is picked up without restarting Roost.
 * With several server URLs (as qmail-ldap's control/ldapserver), a new
 * connection goes to the last server that worked, else to the next in turn.
 */
import type { ConnectionOptions } from 'node:tls';
import { Client, ResultCodeError } from 'ldapts';

export interface PoolOptions {
  /** Servers to try in turn: ldap:// or ldaps:// (proto/host/port only). */
  urls: readonly string[];
  size: number;
  timeoutMs: number;
  starttls: boolean;
  tls: ConnectionOptions;
  /** Service account; empty = anonymous. */
  bindDn: string;
  bindPassword: string;
}

/** LDAP result codes after which the connection itself is still good (RFC 4511 §4.1.9, Appendix A). */
const CONNECTION_KEPT = new Set([
  0, // success
  4, // sizeLimitExceeded
  32, // noSuchObject
  48, // inappropriateAuthentication
  49, // invalidCredentials
  50, // insufficientAccessRights
  53, // unwillingToPerform
]);

/** True when the error says nothing about the connection (an answer, not a fault). */
export function isAnswer(err: unknown): boolean {
  return err instanceof ResultCodeError && CONNECTION_KEPT.has(err.code);
}

interface Waiter {
  resolve: (c: Client, reused: boolean) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class LdapPool {
  private readonly idle: Client[] = [];
  private open = 0;
  private readonly waiters: Waiter[] = [];
  private closed = false;
  /** Index in opts.urls of the server new connections go to first. */
  private preferred = 0;

  constructor(private readonly opts: PoolOptions) {}

  /**
   * Run `fn` (a search or a bind: safe to repeat) on a pooled connection;
   * faults discard the connection and rethrow. A connection taken from the
   * idle list may have died unnoticed (a firewall dropping idle sessions, a
   * server restart): if it fails, `fn` gets one more try on a new connection.
   */
  async with<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const { client, reused } = await this.acquire();
      try {
        const result = await fn(client);
        this.release(client, true);
        return result;
      } catch (err) {
        const answer = isAnswer(err);
        this.release(client, answer);
        if (answer || !reused || attempt > 0 || this.closed) throw err;
      }
    }
  }

  private async acquire(): Promise<{ client: Client; reused: boolean }> {
    if (this.closed) throw new Error('LDAP pool closed');
    while (this.idle.length > 0) {
      const c = this.idle.pop()!;
      // The server may have closed it while idle (restart, idle timeout): start over.
      if (c.isConnected && (this.opts.bindDn === '' || c.isBound)) return { client: c, reused: true };
      this.discard(c);
      this.open--;
    }
    if (this.open < this.opts.size) {
      this.open++;
      try {
        return { client: await this.connect(), reused: false };
      } catch (err) {
        this.open--;
        this.wakeOne();
        throw err;
      }
    }
    // A connection handed over by release() was in use a moment ago: count it as reused.
    return new Promise<{ client: Client; reused: boolean }>((resolve, reject) => {
      const w: Waiter = {
        resolve: (client, reused) => resolve({ client, reused }),
        reject,
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new Error(`no LDAP connection free within ${this.opts.timeoutMs} ms`));
        }, this.opts.timeoutMs),
      };
      this.waiters.push(w);
    });
  }

  /** Open a connection to the preferred server, else to the others in turn. */
  private async connect(): Promise<Client> {
    const { urls } = this.opts;
    let lastErr: unknown = new Error('no LDAP server configured');
    for (let i = 0; i < urls.length; i++) {
      const idx = (this.preferred + i) % urls.length;
      try {
        const client = await this.openTo(urls[idx]!);
        this.preferred = idx;
        return client;
      } catch (err) {
        // A refused service bind is the same mistake on every server: no point trying the others.
        if (isAnswer(err)) throw err;
        lastErr = err;
      }
    }
    throw lastErr;
  }

  private async openTo(url: string): Promise<Client> {
    const { timeoutMs } = this.opts;
    // The certificate must name the host of the URL (RFC 4513 §3.1.3); StartTLS upgrades an existing
    // socket, so the host is passed explicitly for that check.
    const tls: ConnectionOptions = { ...this.opts.tls, host: new URL(url).hostname };
    // ldapts speaks TLS from the first byte whenever tlsOptions are given, so pass them only for ldaps://.
    const implicitTls = /^ldaps:/i.test(url);
    const client = new Client({ url, timeout: timeoutMs, connectTimeout: timeoutMs, ...(implicitTls ? { tlsOptions: tls } : {}) });
    try {
      if (this.opts.starttls) await client.startTLS(tls);
      if (this.opts.bindDn !== '') await client.bind(this.opts.bindDn, this.opts.bindPassword);
      else {
        // Without a service account, an anonymous bind makes the connection now, so a dead server shows
        // here and the next URL is tried; a server that refuses anonymous binds has still answered.
        await client.bind('', '').catch((err: unknown) => {
          if (!isAnswer(err)) throw err;
        });
      }
      return client;
    } catch (err) {
      void client.unbind().catch(() => undefined);
      throw err;
    }
  }

  private release(c: Client, healthy: boolean): void {
    if (!healthy || this.closed) {
      this.discard(c);
      this.open--;
      this.wakeOne();
      return;
    }
    const w = this.waiters.shift();
    if (w) {
      clearTimeout(w.timer);
      w.resolve(c, true);
    } else this.idle.push(c);
  }

  /** A slot came free: let the first waiter open a new connection. */
  private wakeOne(): void {
    const w = this.waiters.shift();
    if (!w) return;
    clearTimeout(w.timer);
    this.open++;
    this.connect().then((c) => w.resolve(c, false), (err: Error) => {
      this.open--;
      w.reject(err);
      this.wakeOne();
    });
  }

  private discard(c: Client): void {
    void c.unbind().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error('LDAP pool closed'));
    }
    const all = this.idle.splice(0);
    this.open -= all.length;
    await Promise.all(all.map((c) => c.unbind().catch(() => undefined)));
  }
}
