/**
 * \Recent as a session reports it (RFC 3501 §2.3.2): a session flag, never
 * stored with the message. Which messages are recent in this session is the
 * store's range (store/recent.ts); here they gain `\Recent` in every FLAGS
 * the session sends (FETCH, STORE answers, unsolicited FETCH, QRESYNC).
 */
import type { RecentRange } from '../store/types.js';

export const RECENT = '\\Recent';

/** Nothing recent (handles opened without \Recent tracking). */
export const NO_RECENT: RecentRange = { from: 0, to: 0 };

/**
 * The flag array with \Recent added, one array per distinct input array:
 * the store interns flag arrays, so FETCH 1:* over 100,000 messages builds
 * a handful of arrays, and flagsText (updates.ts) keeps caching by identity.
 */
const withRecentCache = new WeakMap<readonly string[], readonly string[]>();

export function withRecent(flags: readonly string[]): readonly string[] {
  let r = withRecentCache.get(flags);
  if (!r) {
    r = Object.freeze([RECENT, ...flags]);
    withRecentCache.set(flags, r);
  }
  return r;
}

export function inRange(range: RecentRange, uid: number): boolean {
  return uid >= range.from && uid < range.to;
}
