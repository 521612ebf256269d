/**
 * Tokens → typed `Command`. Grammar references are to
 * RFC 3501 §9 unless noted. Every refusal is a `ParseError` whose message is
 * sent as the BAD (or NO) text, so it names what was wrong.
 *
 * This module holds the argument grammar of most commands, each an exported
 * `ArgParser`; the command table (registry.ts) names one per command and is
 * the grammar `parseCommand` reads by. The argument cursor and shared value
 * grammar are in args.ts; FETCH items in parse-fetch.ts, mailbox commands in
 * parse-mailbox.ts, search programs / SORT / THREAD in parse-search.ts.
 */
import { LIMITS } from '../../limits.js';
import { decodeBase64 } from '../../net/auth-guard.js';
import { Args, flagList, parseDateTime, parseModseq, ParseError, tagOf } from './args.js';
import { parseImapUrl } from './imap-url.js';
import { statusItems } from './parse-mailbox.js';
import type {
  AppendArgs,
  AppendMessageHead,
  AuthenticateArgs,
  CancelUpdateArgs,
  CatenatePart,
  Command,
  CommandArgs,
  CommandName,
  CommandOf,
  CompressArgs,
  CopyArgs,
  EnableArgs,
  ExpungeArgs,
  IdArgs,
  LoginArgs,
  MailboxArgs,
  QuotaRootArgs,
  RenameArgs,
  SetQuotaArgs,
  StatusArgs,
  StoreArgs,
  Token,
} from './types.js';

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

/** The argument grammar of command N (RFC 3501 §9 unless the row's RFC says otherwise). */
export type ArgParser<N extends CommandName> = (a: Args, uid: boolean) => CommandArgs[N];

/** How command N is read: its arguments, and whether it takes the UID prefix (RFC 3501 §6.4.8). */
export interface CommandSyntax<N extends CommandName> {
  readonly parse: ArgParser<N>;
  readonly uid: boolean;
}

/** Every command's syntax; registry.ts's command table is one. */
export type CommandGrammar = { readonly [N in CommandName]: CommandSyntax<N> };

export function noArgs(a: Args): Record<string, never> {
  a.end();
  return {};
}

export function storeArgs(a: Args): StoreArgs {
  const set = a.sequenceSet();
  let unchangedSince: bigint | null = null;
  if (a.peek()?.type === 'list') {
    const m = new Args(a.list('STORE modifiers'), 'STORE modifiers');
    while (!m.done) {
      const k = m.keyword('STORE modifier');
      if (k !== 'UNCHANGEDSINCE') throw new ParseError(`Unknown STORE modifier ${k}`);
      unchangedSince = parseModseq(m.atom('UNCHANGEDSINCE value'), 'UNCHANGEDSINCE value', true);
    }
  }
  const opText = a.keyword('STORE data item');
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(opText);
  if (!m) throw new ParseError(`Invalid STORE data item ${opText}`);
  const op = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set';
  let flags: string[];
  if (a.peek()?.type === 'list') {
    flags = flagList(a.list('flag list'));
    a.end();
  } else {
    if (a.done) throw new ParseError('Missing flags');
    const rest: Token[] = [];
    while (!a.done) rest.push(a.next('flag'));
    flags = flagList(rest);
  }
  return { set, op, silent: m[2] !== undefined, flags, unchangedSince };
}

export function idArgs(a: Args): IdArgs {
  const t = a.next('ID parameters');
  a.end();
  if (t.type === 'atom' && t.value.toUpperCase() === 'NIL') return { params: null };
  if (t.type !== 'list') throw new ParseError('Invalid ID parameters: expected NIL or a list');
  // RFC 2971 §3.3: at most 30 field-value pairs.
  if (t.items.length % 2 !== 0) throw new ParseError('ID parameter list must hold field-value pairs');
  if (t.items.length > 2 * LIMITS.imap.maxIdPairs) throw new ParseError(`Too many ID parameters (at most ${LIMITS.imap.maxIdPairs} pairs)`);
  const params: (readonly [string, string | null])[] = [];
  for (let i = 0; i < t.items.length; i += 2) {
    const k = t.items[i]!;
    const v = t.items[i + 1]!;
    if (k.type !== 'string') throw new ParseError('ID field names must be strings');
    const value = v.type === 'atom' && v.section === null && v.value.toUpperCase() === 'NIL' ? null : v.type === 'string' ? v.value.toString('utf8') : undefined;
    if (value === undefined) throw new ParseError('ID values must be strings or NIL');
    params.push([k.value.toString('utf8'), value]);
  }
  return { params };
}

export function authenticateArgs(a: Args): AuthenticateArgs {
  const mechanism = a.keyword('SASL mechanism');
  let initialResponse: Buffer | null = null;
  if (!a.done) {
    // RFC 4959 §3: "=" is an empty initial response.
    const text = a.astring('initial response').toString('latin1');
    initialResponse = text === '=' ? Buffer.alloc(0) : decodeBase64(text);
    if (initialResponse === null) throw new ParseError('Invalid base64 in initial response');
  }
  a.end();
  return { mechanism, initialResponse };
}

const utf8 = (b: Buffer): string => b.toString('utf8');

export function loginArgs(a: Args): LoginArgs {
  const username = utf8(a.astring('user name'));
  const password = utf8(a.astring('password'));
  a.end();
  return { username, password };
}

export function renameArgs(a: Args): RenameArgs {
  const from = a.mailbox('existing mailbox name');
  const to = a.mailbox('new mailbox name');
  a.end();
  return { from, to };
}

export function statusArgs(a: Args): StatusArgs {
  const mailbox = a.mailbox();
  const items = statusItems(a.list('STATUS items'));
  a.end();
  return { mailbox, items };
}

/** EXPUNGE takes no arguments; UID EXPUNGE a UID set (RFC 4315 §2.1). */
export function expungeArgs(a: Args, uid: boolean): ExpungeArgs {
  const set = uid ? a.sequenceSet('UID set') : null;
  a.end();
  return { set };
}

/** RFC 5161 §3.1: ENABLE 1*(SP capability). */
export function enableArgs(a: Args): EnableArgs {
  const capabilities: string[] = [];
  do capabilities.push(a.keyword('capability'));
  while (!a.done);
  return { capabilities };
}

export function compressArgs(a: Args): CompressArgs {
  const mechanism = a.keyword('compression mechanism');
  a.end();
  return { mechanism };
}

/** RFC 5267 §5: CANCELUPDATE 1*(SP quoted). */
export function cancelUpdateArgs(a: Args): CancelUpdateArgs {
  const tags: string[] = [];
  do {
    const t = a.next('search tag');
    if (t.type !== 'string' || t.form !== 'quoted') throw new ParseError('CANCELUPDATE takes quoted tags');
    tags.push(t.value.toString('latin1'));
  } while (!a.done);
  return { tags };
}

/** RFC 9208 §4.2: GETQUOTA quota-root. */
export function quotaRootArgs(a: Args): QuotaRootArgs {
  const root = utf8(a.astring('quota root'));
  a.end();
  return { root };
}

/** RFC 9208 §4.3: SETQUOTA quota-root (resource limit …). */
export function setQuotaArgs(a: Args): SetQuotaArgs {
  const root = utf8(a.astring('quota root'));
  const l = new Args(a.list('quota limits'), 'SETQUOTA');
  const limits: { resource: string; limit: number }[] = [];
  while (!l.done) limits.push({ resource: l.keyword('resource name'), limit: parseLimit(l.atom('resource limit')) });
  a.end();
  return { root, limits };
}

function parseLimit(s: string): number {
  if (!/^[0-9]{1,15}$/.test(s)) throw new ParseError(`Invalid resource limit "${s}"`);
  return Number(s);
}

export function mailboxOnly(a: Args): MailboxArgs {
  const mailbox = a.mailbox();
  a.end();
  return { mailbox };
}

export function copyArgs(a: Args): CopyArgs {
  const set = a.sequenceSet();
  const mailbox = a.mailbox();
  a.end();
  return { set, mailbox };
}

/**
 * One command of the grammar: the UID prefix checked against the row, the
 * arguments read by the row's parser. Generic in the name so the row and
 * the command it builds are paired by the types (CommandOf in types.ts).
 */
function parseNamed<N extends CommandName>(grammar: CommandGrammar, name: N, tag: string, uid: boolean, a: Args): CommandOf<N> {
  const syntax: CommandSyntax<N> = grammar[name];
  if (uid && !syntax.uid) throw new ParseError(`Unknown UID command ${name}`);
  return { tag, uid, name, args: syntax.parse(a, uid) };
}

function isCommandName(grammar: CommandGrammar, name: string): name is CommandName {
  return Object.prototype.hasOwnProperty.call(grammar, name);
}

/** tokens[0] is the tag, tokens[1] the command name (after UID, tokens[2]). Throws ParseError. */
export function parseCommand(tokens: readonly Token[], grammar: CommandGrammar): Command {
  const tag = tagOf(tokens[0]);
  if (tag === null) throw new ParseError(tokens.length === 0 ? 'Empty command' : 'Invalid or missing tag');
  const a = new Args(tokens.slice(1), 'command');
  let name = a.done ? '' : (a.peekKeyword() ?? '');
  if (a.done) throw new ParseError('Missing command');
  if (name === '') throw new ParseError('Invalid command name');
  a.next('command');
  let uid = false;
  if (name === 'UID') {
    uid = true;
    name = a.peekKeyword() ?? '';
    if (a.done) throw new ParseError('Missing command after UID');
    if (!isCommandName(grammar, name) || !grammar[name].uid) throw new ParseError(`Unknown UID command ${name || '(not an atom)'}`);
    a.next('command');
  }
  if (!isCommandName(grammar, name)) throw new ParseError(`Unknown command ${name}`);
  return parseNamed(grammar, name, tag, uid, new Args(tokens.slice(uid ? 3 : 2), uid ? `UID ${name}` : name));
}

// ---------------------------------------------------------------------------
// APPEND
// ---------------------------------------------------------------------------

/**
 * Walk APPEND's arguments (`mailbox 1*( [flags] [date-time] append-data )`,
 * RFC 3502 for more than one, RFC 4469 §5 `CATENATE (cat-part …)` as
 * append-data) and return the message heads. Used when a message literal
 * or a CATENATE TEXT literal is announced (with a placeholder for it, so
 * flags and date are checked before the client sends the body; a CATENATE
 * list still open then holds the parts so far) and on the complete command.
 * `tokens` starts with the tag and APPEND.
 */
function appendGroups(tokens: readonly Token[]): { mailbox: string; heads: AppendMessageHead[] } {
  const a = new Args(tokens.slice(2), 'APPEND');
  const mailbox = a.mailbox();
  const heads: AppendMessageHead[] = [];
  do {
    let flags: string[] = [];
    let internalDate: Date | null = null;
    let t = a.next('message literal');
    if (t.type === 'list') {
      flags = flagList(t.items);
      t = a.next('message literal');
    }
    if (t.type === 'string' && t.form === 'quoted') {
      internalDate = parseDateTime(t.value.toString('latin1'));
      t = a.next('message literal');
    }
    const head = { index: heads.length, mailbox, flags, internalDate };
    if (t.type === 'atom' && t.section === null && t.value.toUpperCase() === 'CATENATE') {
      heads.push({ ...head, size: 0, binary: false, catenate: catenateParts(a.list('CATENATE parts')) });
      continue;
    }
    if (t.type !== 'stream') throw new ParseError('Invalid APPEND arguments: expected flags, date-time, a message literal or CATENATE');
    heads.push({ ...head, size: t.size, binary: t.binary, catenate: null });
  } while (!a.done);
  return { mailbox, heads };
}

/** RFC 4469 §5 `cat-part *(SP cat-part)`; at most LIMITS.imap.maxCatenateParts of them. */
function catenateParts(items: readonly Token[]): CatenatePart[] {
  if (items.length === 0) throw new ParseError('Empty CATENATE list');
  const a = new Args(items, 'CATENATE');
  const parts: CatenatePart[] = [];
  while (!a.done) {
    if (parts.length === LIMITS.imap.maxCatenateParts) {
      throw new ParseError(`Too many CATENATE parts (limit ${LIMITS.imap.maxCatenateParts})`, 'NO', 'LIMIT');
    }
    const kind = a.keyword('CATENATE part');
    if (kind === 'TEXT') {
      const t = a.next('TEXT literal');
      // The tokenizer streams every TEXT literal; a quoted string or atom here is not `literal`.
      if (t.type !== 'stream') throw new ParseError('CATENATE TEXT needs a literal');
      parts.push({ kind: 'text', size: t.size, binary: t.binary });
    } else if (kind === 'URL') {
      const url = a.astring('CATENATE URL').toString('utf8');
      parts.push({ kind: 'url', url, ref: parseImapUrl(url) });
    } else {
      throw new ParseError(`Unknown CATENATE part ${kind}`);
    }
  }
  return parts;
}

/**
 * The heads of the messages so far; the last one's literal (a message
 * literal or a CATENATE TEXT literal) was just announced. `tokens` is the
 * command so far without it (an open CATENATE list as its last list token).
 */
export function appendHeads(tokens: readonly Token[], size: number, binary: boolean, inCatenate: boolean): AppendMessageHead[] {
  const stream: Token = { type: 'stream', size, binary };
  let all: readonly Token[];
  if (inCatenate) {
    const open = tokens[tokens.length - 1];
    if (open?.type !== 'list') throw new ParseError('Invalid APPEND arguments');
    all = [...tokens.slice(0, -1), { type: 'list', items: [...open.items, stream] }];
  } else {
    all = [...tokens, stream];
  }
  return appendGroups(all).heads;
}

const APPEND_PREFIX: readonly Token[] = [
  { type: 'atom', value: 'tag', section: null, partial: null },
  { type: 'atom', value: 'APPEND', section: null, partial: null },
];

export function appendArgs(a: Args): AppendArgs {
  const rest: Token[] = [];
  while (!a.done) rest.push(a.next('message'));
  const { mailbox, heads } = appendGroups([...APPEND_PREFIX, ...rest]);
  return { mailbox, messages: heads };
}
