/**
 * What a FETCH needs (RFC 3501 §6.4.5), decided once per command:
 *  - FLAGS, UID, RFC822.SIZE, INTERNALDATE come from the index snapshot
 *    (no file is opened);
 *  - ENVELOPE, BODY, BODYSTRUCTURE come from the stored MIME structure;
 *  - only section items read the message file, and only their byte range.
 * It also decides whether the fetch sets \Seen (BODY[…] without .PEEK,
 * RFC822, RFC822.TEXT) and so must report FLAGS (§6.4.5).
 */
import type { FetchItem } from '../wire/types.js';

export interface FetchPlan {
  readonly items: readonly FetchItem[];
  /** Any item needs the MIME structure. */
  readonly needsStructure: boolean;
  /** Some item sets \Seen (when the mailbox is writable). */
  readonly setsSeen: boolean;
  /** FLAGS is sent even if not asked for, because \Seen may change. */
  readonly addFlags: boolean;
  /** UID is sent first: asked for, or a UID FETCH (RFC 3501 §6.4.8). */
  readonly addUid: boolean;
  /** Only index data is needed (FLAGS, UID, RFC822.SIZE, INTERNALDATE): no structure, no file. */
  readonly metaOnly: boolean;
}

export type PlanResult = { readonly ok: true; readonly plan: FetchPlan } | { readonly ok: false; readonly reason: string };

/** Items answered with a literal (or NIL): the message text, a section, a decoded part. */
function isLiteralItem(it: FetchItem): boolean {
  return it.item === 'RFC822' || it.item === 'RFC822.HEADER' || it.item === 'RFC822.TEXT' || it.item === 'BODY[]' || it.item === 'BINARY[]';
}

/**
 * The plan's items: UID first (addUid), then every item answered inline in
 * request order, then the literals in request order. RFC 3501 §7.4.2 leaves
 * the order open; this is Dovecot's (imap-fetch.c puts buffered handlers
 * before the streamed ones), so a client reads UID, FLAGS, RFC822.SIZE and
 * ENVELOPE before the bodies, whatever order it asked in.
 */
export function planFetch(items: readonly FetchItem[], uidCommand: boolean): PlanResult {
  let needsStructure = false;
  let setsSeen = false;
  let hasFlags = false;
  let hasUid = false;
  const rest: FetchItem[] = [];
  for (const it of items) {
    switch (it.item) {
      case 'UID':
        hasUid = true;
        continue;
      case 'FLAGS':
        hasFlags = true;
        break;
      case 'INTERNALDATE':
      case 'RFC822.SIZE':
      // RFC 7162 §3.1.4.1: the modseq is in the index.
      case 'MODSEQ':
        break;
      case 'ENVELOPE':
      case 'BODY':
      case 'BODYSTRUCTURE':
      case 'RFC822.HEADER':
        needsStructure = true;
        break;
      case 'RFC822':
      case 'RFC822.TEXT':
        needsStructure = true;
        setsSeen = true;
        break;
      case 'BODY[]':
        needsStructure = true;
        if (!it.peek) setsSeen = true;
        break;
      // RFC 3516 §4.2: decoded content; BINARY without .PEEK sets \Seen like BODY[].
      case 'BINARY[]':
        needsStructure = true;
        if (!it.peek) setsSeen = true;
        break;
      case 'BINARY.SIZE':
        needsStructure = true;
        break;
    }
    rest.push(it);
  }
  return {
    ok: true,
    plan: { items: [...rest.filter((it) => !isLiteralItem(it)), ...rest.filter(isLiteralItem)], needsStructure, setsSeen, addFlags: setsSeen && !hasFlags, addUid: hasUid || uidCommand, metaOnly: !needsStructure },
  };
}

/**
 * The plan for a message whose \Seen this FETCH just set while CONDSTORE is
 * on: RFC 7162 §3.1 wants UID and MODSEQ in every FETCH response that reports
 * a flag change, so both are added (MODSEQ with the other inline items).
 */
export function reportingChange(plan: FetchPlan): FetchPlan {
  if (plan.addUid && plan.items.some((it) => it.item === 'MODSEQ')) return plan;
  let items = plan.items;
  if (!items.some((it) => it.item === 'MODSEQ')) {
    const firstLiteral = items.findIndex(isLiteralItem);
    const at = firstLiteral < 0 ? items.length : firstLiteral;
    items = [...items.slice(0, at), { item: 'MODSEQ' }, ...items.slice(at)];
  }
  return { ...plan, items, addUid: true };
}
