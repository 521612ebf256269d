/**
 * Address lists (RFC 5322 §3.4) as IMAP ENVELOPE needs them, read leniently
 * the way Dovecot's message-address parser reads them: broken members keep
 * their place with the placeholders MISSING_MAILBOX, MISSING_DOMAIN or
 * SYNTAX_ERROR instead of vanishing, and groups become a start marker
 * (mailbox = group name, domain = null) and an end marker (all null), which
 * is RFC 3501 §7.4.2's group notation.
 */
import { Rfc822Scanner } from './rfc822.js';

export interface Address {
  name: string | null;
  route: string | null;
  mailbox: string | null;
  domain: string | null;
}

/** U+FFFD as UTF-8 bytes: what a NUL inside a quoted string or comment becomes. */
const NUL_REPLACEMENT = '\xef\xbf\xbd';

class AddressParser {
  readonly out: Address[] = [];
  private cur: Address = blank();
  /** The current member is malformed (placeholders are filled in). */
  private invalid = false;
  readonly sc: Rfc822Scanner;

  constructor(value: string) {
    this.sc = new Rfc822Scanner(value, true, NUL_REPLACEMENT);
  }

  private push(): void {
    this.out.push(this.cur);
    this.cur = blank();
    this.invalid = false;
  }

  private pushFixed(): void {
    if (this.cur.mailbox === null) this.cur.mailbox = 'MISSING_MAILBOX';
    if (this.cur.domain === null || this.cur.domain === '') this.cur.domain = 'MISSING_DOMAIN';
    this.push();
  }

  /** What the last local part read produced, even when it failed (the phrase fallback reuses it). */
  private localText = '';

  private localPart(): number {
    const sc = this.sc;
    const [r, t] = sc.peek() === 0x22 ? sc.quotedString() : sc.looseDotAtom();
    this.localText = t;
    if (r < 0) return -1;
    this.cur.mailbox = t;
    return r;
  }

  private domain(): number {
    const [r, t] = this.sc.domain();
    if (r < 0) return -1;
    this.cur.domain = t;
    return r;
  }

  /** obs-route: "@" domain *("," ["@" domain]) ":" */
  private route(): number {
    const sc = this.sc;
    let route = '';
    for (;;) {
      if (sc.end) return 0;
      if (sc.peek() !== 0x40) break;
      if (route.length > 0) route += ',';
      const [r, d] = sc.domain();
      route += '@' + d;
      if (r <= 0) return r;
      while (sc.skipLwsp() > 0 && sc.peek() === 0x2c) sc.pos++;
    }
    this.cur.route = route;
    return 1;
  }

  private angleAddr(): number {
    const sc = this.sc;
    sc.pos++;
    if (sc.skipLwsp() <= 0) return -1;
    if (sc.peek() === 0x40) {
      if (this.route() > 0 && sc.peek() === 0x3a) {
        sc.pos++;
      } else {
        // A broken route: mark it and try to read the address anyway.
        this.cur.route = 'INVALID_ROUTE';
        if (sc.end) return -1;
      }
      if (sc.skipLwsp() <= 0) return -1;
    }
    // "<>" has neither mailbox nor domain (placeholders follow).
    if (sc.peek() !== 0x3e) {
      if (this.localPart() <= 0) return -1;
      if (sc.peek() === 0x40 && this.domain() <= 0) return -1;
    }
    if (sc.peek() !== 0x3e) return -1;
    sc.pos++;
    return sc.skipLwsp();
  }

  private nameAddr(): number {
    const sc = this.sc;
    const [r, name] = sc.phrase();
    if (r <= 0 || sc.peek() !== 0x3c) return -1;
    this.cur.name = name === '' ? null : name;
    if (this.angleAddr() < 0) {
      this.cur.domain = 'SYNTAX_ERROR';
      this.invalid = true;
    }
    return sc.end ? 0 : 1;
  }

  private addrSpec(): number {
    const sc = this.sc;
    sc.lastComment = '';
    const quoted = sc.peek() === 0x22;
    let r = this.localPart();
    let r2 = -2;
    if (r <= 0) this.invalid = true;
    if (r !== 0 && !sc.end && sc.peek() === 0x40) {
      r2 = this.domain();
      if (r2 <= 0) r = r2;
    }
    if (sc.lastComment.length > 0) {
      this.cur.name = sc.lastComment;
    } else if (r2 === -2) {
      // A lone word is a mailbox, but words followed by more words are a display name.
      const [, more] = sc.phrase();
      if (more.length > 0) {
        this.cur.name = `${this.localText} ${more}`;
        this.cur.mailbox = null;
      } else if (!quoted) {
        this.cur.domain = '';
      }
      this.invalid = true;
      r = -1;
    }
    return r;
  }

  private mailbox(): number {
    const sc = this.sc;
    const start = sc.pos;
    let r = this.nameAddr();
    if (r < 0) {
      sc.pos = start;
      this.cur = blank();
      this.invalid = false;
      r = this.addrSpec();
      if (this.invalid && this.cur.name === null && this.cur.mailbox !== null && this.cur.domain === null) {
        this.cur.name = this.cur.mailbox;
        this.cur.mailbox = null;
      }
    }
    this.pushFixed();
    return r;
  }

  private group(): number {
    const sc = this.sc;
    const [pr, name] = sc.phrase();
    if (pr <= 0 || sc.peek() !== 0x3a) return -1;
    // From here on this is a group, whatever follows.
    sc.pos++;
    let r = sc.skipLwsp();
    this.cur.mailbox = name;
    this.push();
    if (r > 0 && sc.peek() !== 0x3b) {
      for (;;) {
        this.mailbox();
        if (sc.end || sc.peek() !== 0x2c) break;
        sc.pos++;
        if (sc.skipLwsp() <= 0) {
          r = -1;
          break;
        }
      }
    }
    if (r >= 0) {
      if (sc.end || sc.peek() !== 0x3b) r = -1;
      else {
        sc.pos++;
        r = sc.skipLwsp();
      }
    }
    this.push();
    return r === 0 ? 0 : 1;
  }

  private address(): number {
    const sc = this.sc;
    const start = sc.pos;
    const before = this.out.length;
    let r = this.group();
    if (r < 0) {
      sc.pos = start;
      this.out.length = before;
      this.cur = blank();
      this.invalid = false;
      r = this.mailbox();
    }
    return r;
  }

  /** address-list; bounded by `max` members. */
  list(max: number): void {
    const sc = this.sc;
    if (sc.skipLwsp() <= 0) return;
    for (let n = 0; n < max; n++) {
      if (this.address() === 0) break;
      if (sc.end || sc.peek() !== 0x2c) break;
      sc.pos++;
      const r = sc.skipLwsp();
      if (r <= 0) {
        if (r < 0) this.pushFixed();
        break;
      }
    }
  }
}

function blank(): Address {
  return { name: null, route: null, mailbox: null, domain: null };
}

/** Parse an unfolded address-list header value (byte string). */
export function parseAddressList(value: string, max = 1000): Address[] {
  const p = new AddressParser(value);
  p.list(max);
  return p.out;
}

/** Placeholders the lenient parser puts in place of missing parts; they are not text of the message. */
const PLACEHOLDERS = new Set(['MISSING_MAILBOX', 'MISSING_DOMAIN', 'SYNTAX_ERROR', 'INVALID_ROUTE']);
const real = (s: string | null): string => (s === null || PLACEHOLDERS.has(s) ? '' : s);

function mailboxText(a: Address): string {
  const local = real(a.mailbox);
  const domain = real(a.domain);
  const route = real(a.route);
  const spec = domain === '' ? local : `${local}@${domain}`;
  const addr = route === '' ? `<${spec}>` : `<${route}:${spec}>`;
  return a.name ? `${a.name} ${addr}` : addr;
}

/**
 * An address list written back in one canonical form, for SEARCH FROM/TO/
 * CC/BCC: `name <@route:local@domain>` per mailbox and `group: member, …;`
 * per group, comments and folding gone, a lone comment standing in as the
 * name (`a@b (Name)` reads `Name <a@b>`). A client searching for
 * `user@domain.org` then finds `<user (c)@ (c) domain.org>` too; Dovecot
 * matches the same normalised form. Encoded words are left as written
 * (decode the whole result, as RFC 2047 §6 allows only in phrases anyway).
 */
export function addressListText(list: readonly Address[]): string {
  const parts: string[] = [];
  let group: { name: string; members: string[] } | null = null;
  const close = (): void => {
    if (group) parts.push(`${group.name}: ${group.members.join(', ')};`);
    group = null;
  };
  for (const a of list) {
    // Group markers (RFC 3501 §7.4.2 notation): a start has only the name in `mailbox`, an end has nothing.
    if (a.domain === null) {
      close();
      if (a.mailbox !== null) group = { name: a.mailbox, members: [] };
      continue;
    }
    const text = mailboxText(a);
    if (group) group.members.push(text);
    else parts.push(text);
  }
  close();
  return parts.join(', ');
}
