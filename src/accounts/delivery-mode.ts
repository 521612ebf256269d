/**
 * qmail-ldap's deliveryMode, mailForwardingAddress and mailReplyText turned
 * into DeliveryOptions, with qmail-local's exact semantics (qmail-local.c,
 * QLDAPINSTALL "LDAP_MODE"):
 *
 *  - no value (or `normal`, a placeholder since 20030901): Maildir copy plus
 *    every forward;
 *  - `nolocal`, `nombox`: no Maildir copy;
 *  - `forwardonly`: no Maildir copy and no program delivery;
 *  - `noforward`: forwards are ignored (the attribute may stay);
 *  - `noprogram`: program deliveries are ignored (Roost never runs them);
 *  - `reply`: vacation reply with mailReplyText (none without a text);
 *  - `local`, `forward`, `program`, `noreply` are silently ignored; any other
 *    value is ignored with a warning (qmail-local: "undefined mail delivery mode").
 *
 * Values are compared case-insensitively (case_diffs), one mode per value.
 */
import { LIMITS } from '../limits.js';
import type { DeliveryOptions } from './directory.js';

export interface ModeFlags {
  noLocal: boolean;
  noForward: boolean;
  noProgram: boolean;
  reply: boolean;
  /** Values qmail-local would warn about; ignored here too. */
  unknown: string[];
}

const IGNORED = new Set(['local', 'forward', 'program', 'noreply', 'normal', 'localdelivery']);

export function parseDeliveryModes(values: readonly string[]): ModeFlags {
  const f: ModeFlags = { noLocal: false, noForward: false, noProgram: false, reply: false, unknown: [] };
  for (const raw of values) {
    const v = raw.trim().toLowerCase();
    switch (v) {
      case 'forwardonly':
        f.noLocal = true;
        f.noProgram = true;
        break;
      case 'nolocal':
      case 'nombox':
        f.noLocal = true;
        break;
      case 'noforward':
        f.noForward = true;
        break;
      case 'noprogram':
        f.noProgram = true;
        break;
      case 'reply':
        f.reply = true;
        break;
      default:
        if (v !== '' && !IGNORED.has(v)) f.unknown.push(raw);
    }
  }
  return f;
}

/** A forwarding target Roost can hand to a smarthost: one address with a domain, no spaces or controls. */
export function forwardTargetProblem(target: string): string | null {
  const t = target.trim();
  if (t === '') return 'empty';
  if (t.length > LIMITS.qmqp.maxAddressLength) return 'too long';
  if (/[\x00-\x20\x7f<>,;"()]/.test(t)) return 'not a single plain address';
  const at = t.lastIndexOf('@');
  if (at <= 0 || at === t.length - 1) return 'no domain';
  return null;
}

/**
 * The options an account gets, or undefined when delivery is the plain
 * Maildir copy. `forwards` must already be checked with forwardTargetProblem.
 */
export function deliveryOptions(forwards: readonly string[], modes: ModeFlags, replyText: string | undefined): DeliveryOptions | undefined {
  const fw = modes.noForward ? [] : [...new Set(forwards.map((f) => f.trim()))];
  const text = modes.reply && replyText !== undefined && replyText.trim() !== '' ? replyText : undefined;
  if (!modes.noLocal && fw.length === 0 && text === undefined) return undefined;
  return { local: !modes.noLocal, forwards: fw, ...(text !== undefined ? { replyText: text } : {}) };
}
