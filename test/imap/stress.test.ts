/**
 * Concurrency stress (what imaptest's stress mode checks): many
 * sessions over a few shared mailboxes run random SELECT, FETCH, STORE
 * (flags and keywords, .SILENT, UID forms), EXPUNGE, APPEND, COPY, MOVE,
 * IDLE, NOOP, STATUS and LOGOUT (some read-only, some with QRESYNC), and a ViewChecker follows each session's view from
 * the untagged responses it got (helpers/view-checker.ts lists the
 * invariants). At the end, in a quiet moment, every view is compared with
 * the server's state as a fresh session reads it. Any violation fails.
 *
 * Bounded in count (OPS per session) and time (DEADLINE_MS, then each
 * worker stops after its current command); the random choices come from a
 * seed printed with any failure, so a failing run can be replayed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { message, startImapNode, type ImapTestNode } from './helpers/node.js';
import { stateFromFetch, ViewChecker } from './helpers/view-checker.js';
import { rng } from '../helpers/rng.js';

const SESSIONS = 15;
const MAILBOXES = ['Stress1', 'Stress2', 'Stress3'];
const START_MESSAGES = 12;
const OPS = 40;
const DEADLINE_MS = 35_000;
const REPLY_TIMEOUT_MS = 20_000;
const KEYWORDS = ['$Label1', '$Label2', '$Label3', '$Label4', '$Label5', 'NIL'];
const SYSTEM = ['\\Seen', '\\Flagged', '\\Answered', '\\Draft'];

let n: ImapTestNode;

beforeAll(async () => {
  n = await startImapNode();
  const c = await login(n.port, n.user, n.pass);
  for (const box of MAILBOXES) {
    await c.cmd(`CREATE ${box}`);
    await n.deliver(
      Array.from({ length: START_MESSAGES }, (_, i) => message(i + 1)),
      { mailbox: box },
    );
  }
  c.close();
});
afterAll(async () => {
  await n?.stop();
});

class Worker {
  c!: RawImap;
  readonly chk: ViewChecker;
  box: string;
  readonly problems: string[] = [];
  private readonly condstore: boolean;
  /** Every fifth session only EXAMINEs: it reads and watches, and its FETCHes never set \Seen. */
  private readonly readOnly: boolean;
  /** Every third session enables QRESYNC: expunges reach it as VANISHED (RFC 7162 §3.2.10). */
  private readonly qresync: boolean;

  constructor(
    readonly id: number,
    private readonly rand: () => number,
  ) {
    this.chk = new ViewChecker(`session ${id}`);
    this.box = MAILBOXES[id % MAILBOXES.length]!;
    this.condstore = id % 2 === 0;
    this.readOnly = id % 5 === 4;
    this.qresync = id % 3 === 1;
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rand() * xs.length)]!;
  }

  private flagList(): string {
    const out = new Set<string>();
    const k = 1 + Math.floor(this.rand() * 3);
    for (let i = 0; i < k; i++) out.add(this.rand() < 0.5 ? this.pick(KEYWORDS) : this.pick(SYSTEM));
    return `(${[...out].join(' ')})`;
  }

  private seq(): number {
    return 1 + Math.floor(this.rand() * this.chk.exists);
  }

  private knownUid(): number {
    const known = this.chk.uids.filter((u) => u > 0);
    return known.length > 0 ? this.pick(known) : 0;
  }

  /** Send one command, feed the whole answer to the checker; NO is a problem unless `mayFail` allows it. */
  async run(text: string, mayFail: RegExp | null = null, wire?: string): Promise<void> {
    const tag = this.c.nextTag();
    this.c.write(wire ? `${tag} ${wire}` : `${tag} ${text}\r\n`);
    const r = await this.c.until(tag, REPLY_TIMEOUT_MS);
    this.chk.feed(tag, text, r.untagged, r.tagged);
    if (!r.tagged.startsWith(`${tag} OK`) && !(mayFail && mayFail.test(r.tagged))) this.problems.push(`session ${this.id}: ${text} -> ${r.tagged}`);
  }

  async connect(): Promise<void> {
    this.c = await login(n.port, n.user, n.pass);
    this.chk.reset();
    if (this.qresync) await this.run('ENABLE QRESYNC');
    await this.select();
  }

  private select(): Promise<void> {
    return this.run(`${this.readOnly ? 'EXAMINE' : 'SELECT'} ${this.box}${this.condstore ? ' (CONDSTORE)' : ''}`);
  }

  async idle(): Promise<void> {
    const tag = this.c.nextTag();
    this.c.write(`${tag} IDLE\r\n`);
    const lines: string[] = [];
    await this.c.waitFor(/^\+ /, REPLY_TIMEOUT_MS, lines);
    await new Promise((r) => setTimeout(r, 5 + Math.floor(this.rand() * 40)));
    this.c.write('DONE\r\n');
    const r = await this.c.until(tag, REPLY_TIMEOUT_MS);
    this.chk.feed(tag, 'IDLE', [...lines, ...r.untagged], r.tagged);
    if (!r.tagged.startsWith(`${tag} OK`)) this.problems.push(`session ${this.id}: IDLE -> ${r.tagged}`);
  }

  async logout(): Promise<void> {
    await this.run('LOGOUT');
    // RFC 3501 §6.1.3: the connection closes after the tagged OK, and nothing follows the BYE.
    if (!(await this.c.waitClosed(REPLY_TIMEOUT_MS))) this.problems.push(`session ${this.id}: LOGOUT did not close the connection`);
    this.chk.unsolicited(this.c.drain());
    this.c.close();
  }

  /** One random operation, chosen so the mailbox neither empties nor grows without bound. */
  async step(): Promise<void> {
    const exists = this.chk.exists;
    const ms = this.condstore ? ' MODSEQ' : '';
    const r = this.rand();
    const other = this.pick(MAILBOXES.filter((b) => b !== this.box));
    if (this.readOnly && exists > 0 && ((r >= 0.37 && r < 0.7) || (r >= 0.75 && r < 0.79))) {
      // No STORE/EXPUNGE/MOVE in a read-only view: a BODY[] fetch instead (no implicit \Seen under EXAMINE, RFC 3501 §6.3.2).
      await this.run(`FETCH ${this.seq()} (UID FLAGS BODY[TEXT])`, /NO \[EXPUNGEISSUED\]/);
    } else if (exists === 0 || (r < 0.1 && exists < 30)) {
      const msg = message(1000 + Math.floor(this.rand() * 1000));
      const flags = this.flagList();
      await this.run(`APPEND ${this.box} ${flags}`, null, `APPEND ${this.box} ${flags} {${msg.length}+}\r\n${msg}\r\n`);
    } else if (r < 0.25) {
      await this.run(`FETCH 1:* (UID FLAGS${ms})`, /NO \[EXPUNGEISSUED\]/);
    } else if (r < 0.32) {
      const a = this.seq();
      const b = this.seq();
      await this.run(`FETCH ${Math.min(a, b)}:${Math.max(a, b)} (FLAGS${ms})`, /NO \[EXPUNGEISSUED\]/);
    } else if (r < 0.34) {
      await this.run(`UID FETCH 1:* (FLAGS${ms})`);
    } else if (r < 0.37) {
      // Two sections: both are read from the file, which a concurrent EXPUNGE may unlink.
      await this.run(`FETCH ${this.seq()}:* (UID BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[TEXT])`, /NO \[EXPUNGEISSUED\]/);
    } else if (r < 0.55) {
      const op = this.pick(['+', '-', '']);
      const silent = this.rand() < 0.3 ? '.SILENT' : '';
      await this.run(`STORE ${this.seq()} ${op}FLAGS${silent} ${this.flagList()}`);
    } else if (r < 0.62) {
      const uid = this.knownUid();
      if (uid > 0) await this.run(`UID STORE ${uid} ${this.pick(['+', '-'])}FLAGS ${this.flagList()}`);
      else await this.run('NOOP');
    } else if (r < 0.7 && exists > 4) {
      await this.run(`STORE ${this.seq()} +FLAGS.SILENT (\\Deleted)`);
      await this.run(this.rand() < 0.7 ? 'EXPUNGE' : `UID EXPUNGE 1:*`);
    } else if (r < 0.75) {
      await this.run(`COPY ${this.seq()} ${other}`, /NO \[EXPUNGEISSUED\]/);
    } else if (r < 0.79 && exists > 4) {
      await this.run(`${this.rand() < 0.5 ? 'MOVE' : 'UID MOVE'} ${this.rand() < 0.5 ? this.seq() : '*'} ${other}`, /NO \[EXPUNGEISSUED\]/);
    } else if (r < 0.86) {
      await this.idle();
    } else if (r < 0.91) {
      await this.run('NOOP');
    } else if (r < 0.93) {
      await this.run(`STATUS ${this.box} (MESSAGES HIGHESTMODSEQ)`);
    } else if (r < 0.97) {
      this.box = other;
      await this.select();
    } else {
      await this.logout();
      await this.connect();
    }
  }
}

describe('concurrent sessions on shared mailboxes', () => {
  it(
    'every session sees a consistent view, and at the end the server state',
    async () => {
      const seed = Number(process.env.ROOST_STRESS_SEED ?? Date.now() % 1_000_000);
      const deadline = Date.now() + DEADLINE_MS;
      const workers = Array.from({ length: SESSIONS }, (_, i) => new Worker(i, rng(seed * 100 + i)));
      for (const w of workers) await w.connect();
      let ops = 0;
      await Promise.all(
        workers.map(async (w) => {
          for (let i = 0; i < OPS && Date.now() < deadline; i++) {
            await w.step();
            ops++;
          }
        }),
      );
      // Quiet now: each view hears the rest, then meets the server's state.
      for (const w of workers) await w.run('NOOP');
      const observer = await login(n.port, n.user, n.pass);
      for (const box of MAILBOXES) {
        await observer.cmd(`EXAMINE ${box}`);
        const state = stateFromFetch((await observer.cmd('UID FETCH 1:* (FLAGS)')).untagged);
        for (const w of workers) if (w.box === box && w.chk.selected) w.chk.compareWith(state);
      }
      observer.close();
      for (const w of workers) await w.logout();
      const found = [...workers.flatMap((w) => w.chk.violations), ...workers.flatMap((w) => w.problems)];
      expect(found.slice(0, 20), `seed ${seed}, ${ops} operations`).toEqual([]);
      // The run did something worth checking.
      expect(ops).toBeGreaterThanOrEqual(SESSIONS);
    },
    DEADLINE_MS + 60_000,
  );
});

describe('the checker catches what a broken server would send', () => {
  /** A selected view of 3 messages (UIDs 1..3), keyword $A announced, CONDSTORE on. */
  function selected(): ViewChecker {
    const v = new ViewChecker('t');
    v.feed(
      'a1',
      'SELECT Box (CONDSTORE)',
      ['* FLAGS (\\Seen $A)', '* 3 EXISTS', '* OK [HIGHESTMODSEQ 10] x'],
      'a1 OK [READ-WRITE] done',
    );
    v.feed('a2', 'FETCH 1:* (UID FLAGS MODSEQ)', ['* 1 FETCH (UID 1 FLAGS ($A) MODSEQ (4))', '* 2 FETCH (UID 2 FLAGS () MODSEQ (5))', '* 3 FETCH (UID 3 FLAGS (\\Seen) MODSEQ (10))'], 'a2 OK done');
    expect(v.violations).toEqual([]);
    return v;
  }

  const cases: [string, (v: ViewChecker) => void, RegExp][] = [
    ['EXPUNGE beyond EXISTS', (v) => v.feed('b', 'NOOP', ['* 4 EXPUNGE'], 'b OK'), /EXPUNGE 4 outside 1:3/],
    ['FETCH beyond EXISTS', (v) => v.feed('b', 'NOOP', ['* 2 EXPUNGE', '* 3 FETCH (UID 3 FLAGS ())'], 'b OK'), /FETCH 3 outside 1:2/],
    ['a FETCH cut short', (v) => v.feed('b', 'FETCH 1:2 (BODY[TEXT] BODY[HEADER])', ['* 1 FETCH (BODY[TEXT] {2}\r\n\r\n* 2 FETCH (BODY[TEXT] {2}\r\n\r\n BODY[HEADER] {2}\r\n\r\n)'], 'b OK'), /malformed FETCH/],
    ['STATUS HIGHESTMODSEQ below a shown MODSEQ', (v) => v.feed('b', 'STATUS Box (HIGHESTMODSEQ)', ['* STATUS Box (HIGHESTMODSEQ 9)'], 'b OK'), /STATUS HIGHESTMODSEQ 9 below/],
    ['VANISHED of a UID the view lacks', (v) => v.feed('b', 'NOOP', ['* VANISHED 2:3', '* VANISHED 7'], 'b OK'), /VANISHED UID 7 is not in the view/],
    ['RECENT above EXISTS', (v) => v.feed('b', 'NOOP', ['* 4 RECENT'], 'b OK'), /RECENT 4 above EXISTS 3/],
    ['EXISTS shrinking', (v) => v.feed('b', 'NOOP', ['* 2 EXISTS'], 'b OK'), /EXISTS shrank 3 -> 2/],
    ['EXPUNGE during FETCH', (v) => v.feed('b', 'FETCH 1 (FLAGS)', ['* 3 EXPUNGE'], 'b OK'), /EXPUNGE during a sequence-number/],
    ['a keyword before FLAGS', (v) => v.feed('b', 'NOOP', ['* 2 FETCH (UID 2 FLAGS ($B) MODSEQ (11))'], 'b OK'), /keyword \$B used before FLAGS/],
    ['FLAGS dropping a keyword in use', (v) => v.feed('b', 'NOOP', ['* FLAGS (\\Seen)'], 'b OK'), /FLAGS dropped keyword \$A still on UID 1/],
    ['MODSEQ going down', (v) => v.feed('b', 'NOOP', ['* 3 FETCH (UID 3 FLAGS () MODSEQ (9))'], 'b OK'), /UID 3 MODSEQ went down 10 -> 9/],
    ['HIGHESTMODSEQ below a shown MODSEQ', (v) => v.feed('b', 'NOOP', ['* OK [HIGHESTMODSEQ 9] x'], 'b OK'), /HIGHESTMODSEQ went down|below a MODSEQ/],
    ['a UID changing sequence number', (v) => v.feed('b', 'NOOP', ['* 2 FETCH (UID 3 FLAGS ())'], 'b OK'), /sequence 2 was UID 2, now UID 3/],
    ['untagged data after BYE', (v) => v.feed('b', 'LOGOUT', ['* BYE bye', '* 3 EXPUNGE'], 'b OK'), /untagged response after BYE/],
    [
      'flags that differ from the server at the end',
      (v) =>
        v.compareWith([
          { uid: 1, flags: ['$A'] },
          { uid: 2, flags: ['\\Flagged'] },
          { uid: 3, flags: ['\\Seen'] },
        ]),
      /UID 2 flags last seen \(\) differ/,
    ],
  ];
  for (const [name, feed, expected] of cases) {
    it(name, () => {
      const v = selected();
      feed(v);
      expect(v.violations.join('\n')).toMatch(expected);
    });
  }

  it('VANISHED removes known UIDs and, for unknown ones, a slot of the gap they fit in', () => {
    const v = selected();
    v.feed('b', 'NOOP', ['* 6 EXISTS', '* 6 FETCH (UID 9 FLAGS ())'], 'b OK');
    // Slots 4 and 5 are unknown UIDs between 3 and 9: VANISHED 5 takes one of them.
    v.feed('c', 'NOOP', ['* VANISHED 2,5', '* 4 FETCH (UID 9 FLAGS ())', '* 3 FETCH (UID 6 FLAGS ())'], 'c OK');
    expect(v.violations).toEqual([]);
    expect(v.uids).toEqual([1, 3, 6, 9]);
  });

  it('a consistent transcript passes, with EXPUNGE renumbering and .SILENT changes applied', () => {
    const v = selected();
    v.feed('b', 'STORE 2 +FLAGS.SILENT (\\Seen)', [], 'b OK');
    v.feed('c', 'NOOP', ['* 1 EXPUNGE', '* 3 EXISTS', '* FLAGS (\\Seen $A $B)', '* 3 FETCH (UID 7 FLAGS ($B) MODSEQ (12))', '* OK [HIGHESTMODSEQ 12] x'], 'c OK');
    v.compareWith([
      { uid: 2, flags: ['\\Seen'] },
      { uid: 3, flags: ['\\Seen'] },
      { uid: 7, flags: ['$B'] },
    ]);
    expect(v.violations).toEqual([]);
  });
});
