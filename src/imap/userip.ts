/**
 * Logged-in IMAP sessions per account and remote address
 * (`imap.max_userip_connections`, Dovecot's mail_max_userip_connections,
 * default 10 there too): a client that reconnects in a loop without logging
 * out, or a leaked credential used from one host, cannot take thousands of
 * the server's sessions for one mailbox. Thunderbird opens up to 5 per
 * account, so the default leaves room for two clients on one machine.
 */
import type { NodeContext } from '../context.js';

const perNode = new WeakMap<NodeContext, Map<string, number>>();

/** Take a slot for `accountId` from `address`: a release function, or null when the limit is reached. */
export function takeUserIpSlot(ctx: NodeContext, accountId: string, address: string): (() => void) | null {
  let counts = perNode.get(ctx);
  if (!counts) perNode.set(ctx, (counts = new Map()));
  const key = `${accountId}\0${address}`;
  const n = counts.get(key) ?? 0;
  if (n >= ctx.config.imap.max_userip_connections) return null;
  counts.set(key, n + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (counts.get(key) ?? 1) - 1;
    if (left > 0) counts.set(key, left);
    else counts.delete(key);
  };
}
