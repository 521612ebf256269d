/**
 * Recipients that are not delivered here: split from the local
 * ones, checked against the relay permission, handed off within the
 * transaction, and the outcome turned into a verdict. The hand-off comes
 * before the local commit, so a refusal leaves no local copy (the draft is
 * discarded, as for any other refusal); a local commit failing after the
 * smarthost took the message answers Z, and the retry may give the remote
 * recipients a second copy: mail is duplicated, never lost (qmail's rule).
 */
import { LIMITS } from '../limits.js';
import type { Outbound, HandOffResult, RecipientOutcome } from '../outbound/handoff.js';
import type { Draft } from '../store/store.js';
import { TEXT, type Verdict } from './verdict.js';

export interface Split {
  local: string[];
  remote: string[];
}

/** Local and remote recipients, in envelope order; all local while remote delivery is disabled. */
export function splitRecipients(outbound: Outbound, recipients: readonly string[]): Split {
  const out: Split = { local: [], remote: [] };
  for (const r of recipients) (outbound.isRemote(r) ? out.remote : out.local).push(r);
  return out;
}

export function relayDenied(): Verdict {
  return { code: 'D', text: TEXT.relayDenied, reason: 'relaydenied' };
}

/** The enhanced code a reply carries (RFC 3463, "550 5.1.1 …"), if its class matches. */
function enhanced(reply: string, cls: '4' | '5'): string {
  const m = /^\d{3} ([245])\.(\d{1,3})\.(\d{1,3})\b/.exec(reply);
  return m && m[1] === cls ? `${m[1]}.${m[2]}.${m[3]}` : `${cls}.4.0`;
}

/** The verdict for a hand-off: null when every recipient was accepted; else D for one 5xx, Z otherwise. */
export function handOffVerdict(res: HandOffResult): Verdict | null {
  if (res.status === 'accepted') return null;
  const code = res.status === 'permanent' ? 'D' : 'Z';
  const first: RecipientOutcome = res.recipients.find((o) => o.status === res.status)!;
  const cls = code === 'D' ? '5' : '4';
  const reply = first.reply.slice(0, LIMITS.delivery.maxQuotedReplyChars);
  return { code, text: `${first.recipient}: ${reply} (#${enhanced(first.reply, cls)})`, reason: 'remote' };
}

/**
 * Hand a finished draft's bytes to the smarthosts for `remote`; null when all took it.
 * `eightBit` is what the receiving side saw (Incoming.eightBit), so the copy is not read to find out.
 */
export async function handOffDraft(
  outbound: Outbound,
  draft: Draft,
  eightBit: boolean,
  sender: string,
  remote: readonly string[],
): Promise<Verdict | null> {
  const res = await outbound.handOff({ sender, size: draft.size, eightBit, open: () => draft.openReader() }, remote);
  return handOffVerdict(res);
}
