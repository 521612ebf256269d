/**
 * A source server's account named by URL for `roost import`:
 * `imap[s]://user@host[:port]` (RFC 5092 §3) and `pop3[s]://user@host[:port]`
 * (RFC 2384). The user may be %-encoded; a password in the URL is refused,
 * it is read from stdin.
 */
import { UsageError } from './command.js';

export interface ServerUrl {
  secure: boolean;
  user: string;
  host: string;
  port: number;
}

export interface ServerUrlForm {
  /** Accepted URL schemes (with the colon), each mapped to whether it means TLS from the first byte. */
  schemes: Readonly<Record<string, boolean>>;
  ports: { plain: number; secure: number };
  /** The scheme the messages name ("imap": "expected imap:// or imaps://"). */
  name: string;
  /** Put before each message but "not a URL" (e.g. the option's name). */
  prefix: string;
  /** The message for a URL that carries a password. */
  passwordInUrl: string;
}

export function parseServerUrl(url: string, form: ServerUrlForm): ServerUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`not a URL: ${url}`);
  }
  const secure = form.schemes[u.protocol];
  if (secure === undefined) throw new UsageError(`${form.prefix}expected ${form.name}:// or ${form.name}s://, got ${url}`);
  if (!u.username || !u.hostname) throw new UsageError(`${form.prefix}the URL needs a user and a host: ${form.name}://user@host, got ${url}`);
  if (u.password) throw new UsageError(`${form.prefix}${form.passwordInUrl}`);
  return { secure, user: decodeURIComponent(u.username), host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : secure ? form.ports.secure : form.ports.plain };
}
