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

class AddressParser {
  readonly out: Address[] = [];
  private cur: Address = blank();
  readonly sc: Rfc822Scanner;

  constructor(value: string) {
    this.sc = new Rfc822Scanner(value, true);
  }

  private push(): void {
    this.out.push(this.cur);
    this.cur = blank();
  }

  private pushFixed(): void {
    if (this.cur.mailbox === null) this.cur.mailbox = 'MISSING_MAILBOX';
    if (this.cur.domain === null) this.cur.domain = 'MISSING_DOMAIN';
    this.push();
  }

  private localPart(): number {
    const sc = this.sc;
    const [r, t] = sc.peek() === 0x22 ? sc.quotedString() : sc.dotAtom();
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
    let r = sc.skipLwsp();
    if (r <= 0) return r;
    if (sc.peek() === 0x40) {
      if (this.route() <= 0 || sc.peek() !== 0x3a) {
        this.cur.route = 'INVALID_ROUTE';
        return -1;
      }
      sc.pos++;
      r = sc.skipLwsp();
      if (r <= 0) return r;
    }
    r = this.localPart();
    if (r <= 0) return r;
    if (sc.peek() === 0x40) {
      r = this.domain();
      if (r <= 0) return r;
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
    if (this.angleAddr() < 0) this.cur.domain = 'SYNTAX_ERROR';
    return sc.end ? 0 : 1;
  }

  private addrSpec(): number {
    const sc = this.sc;
    sc.lastComment = '';
    let r = this.localPart();
    if (r !== 0 && sc.peek() === 0x40) {
      const r2 = this.domain();
      if (r2 <= 0) r = r2;
    }
    if (sc.lastComment.length > 0) this.cur.name = sc.lastComment;
    return r;
  }

  private mailbox(): number {
    const sc = this.sc;
    const start = sc.pos;
    let r = this.nameAddr();
    if (r < 0) {
      sc.pos = start;
      this.cur = blank();
      r = this.addrSpec();
    }
    this.pushFixed();
    return r;
  }

  private group(): number {
    const sc = this.sc;
    const [pr, name] = sc.phrase();
    if (pr <= 0 || sc.peek() !== 0x3a) return -1;
    sc.pos++;
    let r = sc.skipLwsp();
    this.cur.mailbox = name;
    this.push();
    if (r > 0 && sc.peek() !== 0x3b) {
      for (;;) {
        if (this.mailbox() <= 0) {
          r = -1;
          break;
        }
        if (sc.peek() !== 0x2c) break;
        sc.pos++;
        if (sc.skipLwsp() <= 0) {
          r = -1;
          break;
        }
      }
    }
    if (r >= 0) {
      if (sc.peek() !== 0x3b) r = -1;
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
      r = this.mailbox();
    }
    return r;
  }

  /** address-list; bounded by `max` members. */
  list(max: number): void {
    const sc = this.sc;
    if (sc.skipLwsp() <= 0) return;
    let n = 0;
    while (n++ < max) {
      if (this.address() === 0) break;
      if (sc.peek() !== 0x2c) break;
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
