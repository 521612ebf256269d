// Types for dovecot.js (plain JS, run by the benchmarks with node) so the
// tests that borrow its private-Dovecot starter are type-checked.

export interface DovecotUser {
  name: string;
  password: string;
}

export interface DovecotOptions {
  /** Existing Maildirs to serve (<mailRoot>/<user>/Maildir); default <dir>/mail. */
  mailRoot?: string;
  /** pop3_uidl_format; Dovecot's default %08Xu%08Xv otherwise. */
  uidlFormat?: string;
}

export interface DovecotInstance {
  kind: 'dovecot';
  uid: number;
  gid: number;
  ports: { imap: number; pop3: number; lmtp: number };
  dir: string;
  maildir(user: string): string;
  /** Master pid and every child (login, imap, pop3, lmtp, auth, …). */
  pids(): number[];
  stop(): Promise<void>;
}

export function freePort(): Promise<number>;
export function dovecotVersion(): string | null;
export function startDovecot(dir: string, users: readonly DovecotUser[], opts?: DovecotOptions): Promise<DovecotInstance>;
