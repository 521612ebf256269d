/**
 * Building the messages of one APPEND (RFC 3501 §6.3.11, RFC 3502
 * MULTIAPPEND) in store drafts, including CATENATE ones (RFC 4469).
 *
 * Each message gets one draft, written in part order as the command
 * arrives: message literals and CATENATE TEXT literals stream in from the
 * socket (Session.onLiteral/onAppendData); a CATENATE URL part (RFC 4469
 * §5) is copied from the referenced stored message when the next TEXT
 * literal of its message is announced — so a bad URL is refused before the
 * client sends that literal — or, for URLs after a message's last literal,
 * when the command completes. Copies stream through the same section
 * reader FETCH uses (fetch/render.ts `openBody`), so neither a URL's bytes
 * nor a whole message are held in memory, and the draft's size cap
 * (APPENDLIMIT) applies to the catenated result: NO [TOOBIG] (§5).
 * A message is sealed as soon as its last part is in — a CATENATE one when
 * a later message's literal is announced — and past
 * LIMITS.imap.appendOpenDrafts sealed messages each is parked (synced, its
 * descriptor closed), so a long MULTIAPPEND holds files, not descriptors.
 *
 * URL parts name messages of the logged-in user only (wire/imap-url.ts;
 * URLAUTH is not offered). A URL that names nothing we can read — unknown
 * mailbox, UIDVALIDITY mismatch, no such UID or section — fails the whole
 * APPEND with NO [BADURL url] (§5), and nothing is stored.
 */
import { isRoostError, RoostError } from '../../errors.js';
import { LIMITS } from '../../limits.js';
import type { Logger } from '../../log/logger.js';
import type { Draft, MailboxHandle, MessageFile, Store, UserStore } from '../../store/store.js';
import type { MimeTree } from '../../store/mime/types.js';
import { openBody, toSpec } from '../fetch/render.js';
import { answerForError } from '../responses.js';
import { nameProblem } from '../names.js';
import type { AppendMessageHead, CatenatePart, ResponseCode } from '../wire/types.js';

/** A URL part that does not name a readable message (RFC 4469 §5 BADURL). */
export class BadUrlError extends Error {
  constructor(
    readonly url: string,
    reason: string,
  ) {
    super(reason);
    this.name = 'BadUrlError';
  }
}

/** What the assembly needs from the session. */
export interface AssemblyContext {
  readonly store: Store;
  readonly user: UserStore;
  /** The selected mailbox: the base of URLs relative to it (`;UID=…`); null when none is selected. */
  readonly selected: string | null;
  /** APPENDLIMIT (append-limit.ts): the largest message the assembly may build. */
  readonly maxSize: number;
}

interface Building {
  readonly draft: Draft;
  /** Parts of the message already in the draft (a plain message literal counts as one). */
  written: number;
  /** All parts are in: finished, or parked (see `seal`). */
  sealed: boolean;
}

/** The drafts of one APPEND command while it arrives. */
export class AppendAssembly {
  private readonly building = new Map<number, Building>();
  /** The message whose literal is streaming, and whether that literal is the whole message. */
  private current: { readonly b: Building; readonly whole: boolean } | null = null;
  /** First failure while a literal streamed; the client sends the rest anyway, the command answers it. */
  private error: unknown = null;
  /** Messages complete so far (past LIMITS.imap.appendOpenDrafts they give their descriptor back). */
  private sealedCount = 0;

  constructor(private readonly ctx: AssemblyContext) {}

  /**
   * A literal of `head` was announced (before `+`): complete the earlier
   * CATENATE messages (`before`: the rest of their parts are URLs), copy the
   * URL parts that precede this literal and check that it fits. Throws
   * BadUrlError or RoostError (TOOBIG, …) to refuse the literal; the caller
   * then discards everything.
   */
  async beginLiteral(head: AppendMessageHead, size: number, before: readonly AppendMessageHead[] = []): Promise<void> {
    this.current = null;
    if (this.error) return;
    for (const m of before) {
      const e = await this.entry(m.index);
      if (e.sealed) continue;
      await this.copyUrls(e, m.catenate ?? [], m.catenate?.length ?? 0);
      await this.seal(e);
    }
    const b = await this.entry(head.index);
    const parts = head.catenate;
    if (parts) await this.copyUrls(b, parts, parts.length - 1);
    if (b.draft.size + size > this.ctx.maxSize) {
      throw new RoostError('TOOBIG', `message larger than ${this.ctx.maxSize} bytes`);
    }
    b.written = parts ? parts.length : 1;
    this.current = { b, whole: parts === null };
  }

  /** A slice of the literal being received. */
  async write(chunk: Buffer): Promise<void> {
    if (!this.current || this.error) return;
    try {
      await this.current.b.draft.write(chunk);
    } catch (err) {
      this.error = err;
    }
  }

  /** The literal is complete; a plain message's draft is finished now, a CATENATE one when the command is. */
  async endLiteral(): Promise<void> {
    const cur = this.current;
    this.current = null;
    if (!cur || this.error || !cur.whole) return;
    try {
      await this.seal(cur.b);
    } catch (err) {
      this.error = err;
    }
  }

  /**
   * The command is complete: copy the URL parts after each message's last
   * literal (all of them for a message that had none), finish the drafts
   * and hand them over, one per message in order. On failure every draft is
   * discarded before the error is thrown.
   */
  async complete(messages: readonly AppendMessageHead[]): Promise<Draft[]> {
    try {
      if (this.error) throw this.error;
      const drafts: Draft[] = [];
      for (const m of messages) {
        const b = await this.entry(m.index);
        if (!b.sealed) {
          if (m.catenate) await this.copyUrls(b, m.catenate, m.catenate.length);
          else if (b.written === 0) throw new RoostError('PARSE', 'APPEND without message data');
          await this.seal(b);
        }
        drafts.push(b.draft);
      }
      if (drafts.length === 0) throw new RoostError('PARSE', 'APPEND without message data');
      this.building.clear();
      return drafts;
    } catch (err) {
      await this.discard();
      throw err;
    }
  }

  /** Throw everything away (refused, spoiled or abandoned command). Safe to call twice. */
  async discard(): Promise<void> {
    const drafts = [...this.building.values()].map((b) => b.draft);
    this.building.clear();
    this.current = null;
    await Promise.all(drafts.map((d) => d.discard().catch(() => undefined)));
  }

  private async entry(index: number): Promise<Building> {
    let b = this.building.get(index);
    if (!b) {
      // RFC 3502 gives no number; the session refuses a literal past it, this catches messages made of URLs only.
      if (index >= LIMITS.imap.maxAppendMessages) throw new RoostError('LIMIT', `more than ${LIMITS.imap.maxAppendMessages} messages in one APPEND`);
      b = { draft: await this.ctx.store.createDraft({ maxSize: this.ctx.maxSize }), written: 0, sealed: false };
      this.building.set(index, b);
    }
    return b;
  }

  /** The message is complete: finish its draft, or past the first few park it (synced, descriptor closed). */
  private async seal(b: Building): Promise<void> {
    if (b.sealed) return;
    b.sealed = true;
    if (++this.sealedCount > LIMITS.imap.appendOpenDrafts) await b.draft.park();
    else await b.draft.finish();
  }

  /** Copy parts [b.written, end) into the draft; every one of them is a URL (TEXT parts arrived as literals). */
  private async copyUrls(b: Building, parts: readonly CatenatePart[], end: number): Promise<void> {
    for (; b.written < end; b.written++) {
      const p = parts[b.written]!;
      if (p.kind !== 'url') throw new Error('CATENATE TEXT part was not streamed');
      await this.copyUrl(b.draft, p);
    }
  }

  private async copyUrl(draft: Draft, part: Extract<CatenatePart, { kind: 'url' }>): Promise<void> {
    const ref = part.ref;
    const name = ref?.mailbox ?? this.ctx.selected;
    if (!ref) throw new BadUrlError(part.url, 'not an IMAP URL of this server and user');
    if (name === null) throw new BadUrlError(part.url, 'relative URL with no mailbox selected');
    // The name came %-decoded from a URL: the same checks as any mailbox name from the client.
    if (nameProblem(name) !== null) throw new BadUrlError(part.url, 'no such mailbox');
    let h: MailboxHandle;
    try {
      h = await this.ctx.user.openMailbox(name, { readOnly: true });
    } catch (err) {
      if (isRoostError(err, 'NOTFOUND') || isRoostError(err, 'BADNAME')) throw new BadUrlError(part.url, 'no such mailbox');
      throw err;
    }
    try {
      if (ref.uidvalidity !== null && ref.uidvalidity !== h.uidvalidity) throw new BadUrlError(part.url, 'UIDVALIDITY differs');
      const spec = toSpec(ref.section ?? { part: [], specifier: null, fields: [] });
      const partial = ref.partial ? { offset: ref.partial.offset, length: ref.partial.length ?? Number.MAX_SAFE_INTEGER } : null;
      let file: MessageFile;
      let tree: MimeTree;
      try {
        tree = await h.structure(ref.uid);
        file = await h.openMessageFile(ref.uid);
      } catch (err) {
        if (isRoostError(err, 'NOTFOUND')) throw new BadUrlError(part.url, 'no such message');
        throw err;
      }
      try {
        const body = await openBody(file, tree, spec, partial);
        if (!body) throw new BadUrlError(part.url, 'no such section');
        if ('buffer' in body) await draft.write(body.buffer);
        else for await (const chunk of body.stream) await draft.write(chunk);
      } finally {
        await file.close();
      }
    } finally {
      h.close();
    }
  }
}

/** RFC 4469 §5 url-resp-text: any TEXT-CHAR except "]" (errata 2002), so the code stays parseable. */
function urlRespText(url: string): string {
  const t = url.replace(/[\x00-\x1f\x7f\]]/g, '');
  return t === '' ? '/' : t;
}

/** The tagged answer for a failed APPEND: NO [BADURL url] here, everything else through the one error map. */
/** A refused APPEND: a command result (command.ts) without importing the command contract, which names AppendAssembly. */
export interface AppendFailure {
  readonly status: 'NO' | 'BAD';
  readonly text: string;
  readonly code?: ResponseCode;
}

export function appendFailure(err: unknown, log: Logger): AppendFailure {
  if (err instanceof BadUrlError) {
    log.debug({ url: err.url, err: err.message }, 'CATENATE URL refused');
    return { status: 'NO', text: `Bad CATENATE URL: ${err.message}`, code: { name: 'BADURL', args: [{ kind: 'raw', value: urlRespText(err.url) }] } };
  }
  const a = answerForError(err, log, 'APPEND');
  return { status: a.status, text: a.text, code: a.code ? { name: a.code } : undefined };
}
