import { describe, expect, it } from 'vitest';
import { cmd, drive, err } from './drive.js';
import { LIMITS } from '../../../src/limits.js';

/** One long line, fed whole (the split runs are for the shapes above, not for size). */
const parseLine = (line: string) => {
  const ev = drive([Buffer.from(line + '\r\n')]);
  expect(ev).toHaveLength(1);
  return ev[0]!;
};

const all = { kind: 'ranges', ranges: [{ from: 1, to: '*' }] };
const one = (n: number) => ({ kind: 'ranges', ranges: [{ from: n, to: n }] });

describe('session commands', () => {
  it.each(['CAPABILITY', 'NOOP', 'LOGOUT', 'STARTTLS', 'CHECK', 'CLOSE', 'UNSELECT', 'IDLE', 'NAMESPACE'])('%s', (name) => {
    expect(cmd(`a1 ${name.toLowerCase()}`)).toEqual({ tag: 'a1', uid: false, name, args: {} });
    expect(err(`a1 ${name} x`)).toEqual({ kind: 'error', tag: 'a1', status: 'BAD', code: null, text: `Unexpected extra arguments to ${name}` });
  });

  it('LOGIN with atoms, quoted strings with escapes, and a literal', () => {
    expect(cmd('A LOGIN joe secret').args).toEqual({ username: 'joe', password: 'secret' });
    expect(cmd('A LOGIN "joe smith" "pa\\"ss\\\\word"').args).toEqual({ username: 'joe smith', password: 'pa"ss\\word' });
    expect(cmd('A LOGIN {3+}\r\njoe "x"').args).toEqual({ username: 'joe', password: 'x' });
    expect(cmd('A LOGIN "j\xc3\xb6rg" "p\xc3\xa4ss"').args).toEqual({ username: 'jörg', password: 'päss' });
    expect(err('A LOGIN joe').text).toBe('Missing password');
    expect(err('A LOGIN "joe\\n" x').text).toBe('Invalid escape in quoted string');
    expect(err('A LOGIN "joe x').text).toBe('Unterminated quoted string');
  });

  it('AUTHENTICATE with and without SASL-IR', () => {
    expect(cmd('A AUTHENTICATE plain').args).toEqual({ mechanism: 'PLAIN', initialResponse: null });
    expect(cmd('A AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ=').args).toEqual({ mechanism: 'PLAIN', initialResponse: '\0joe\0secret' });
    expect(cmd('A AUTHENTICATE PLAIN =').args).toEqual({ mechanism: 'PLAIN', initialResponse: '' });
    expect(err('A AUTHENTICATE PLAIN AGpvZQ*').text).toBe('Invalid base64 in initial response');
  });

  it('ENABLE, ID, COMPRESS', () => {
    expect(cmd('e ENABLE condstore QRESYNC').args).toEqual({ capabilities: ['CONDSTORE', 'QRESYNC'] });
    expect(err('e ENABLE').text).toBe('Missing capability');
    expect(cmd('i ID NIL').args).toEqual({ params: null });
    expect(cmd('i ID ("name" "Thunderbird" "version" NIL)').args).toEqual({
      params: [
        ['name', 'Thunderbird'],
        ['version', null],
      ],
    });
    expect(err('i ID ("name")').text).toBe('ID parameter list must hold field-value pairs');
    expect(cmd('c COMPRESS deflate').args).toEqual({ mechanism: 'DEFLATE' });
  });

  it('tags and command names', () => {
    expect(err('a+b NOOP')).toMatchObject({ tag: null, text: 'Invalid or missing tag' });
    expect(err('* NOOP')).toMatchObject({ tag: null });
    expect(err('a1')).toMatchObject({ tag: 'a1', text: 'Missing command' });
    expect(err('a1 FROB x')).toMatchObject({ tag: 'a1', text: 'Unknown command FROB' });
    expect(err('a1 UID NOOP')).toMatchObject({ tag: 'a1', text: 'Unknown UID command NOOP' });
    expect(err('a1 "NOOP"')).toMatchObject({ tag: 'a1', text: 'Invalid command name' });
    expect(err('a1 constructor')).toMatchObject({ text: 'Unknown command CONSTRUCTOR' });
    expect(cmd('tag]1 noop').tag).toBe('tag]1');
  });
});

describe('mailbox commands', () => {
  it('SELECT / EXAMINE with CONDSTORE and QRESYNC', () => {
    expect(cmd('s SELECT inbox').args).toEqual({ mailbox: 'INBOX', condstore: false, qresync: null });
    expect(cmd('s EXAMINE "Inbox.Lists.x"').args).toMatchObject({ mailbox: 'INBOX.Lists.x' });
    expect(cmd('s SELECT Sent (CONDSTORE)').args).toEqual({ mailbox: 'Sent', condstore: true, qresync: null });
    expect(cmd('s SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))').args).toEqual({
      mailbox: 'INBOX',
      condstore: false,
      qresync: {
        uidvalidity: 67890007,
        modseq: '20050715194045000n',
        knownUids: {
          kind: 'ranges',
          ranges: [
            { from: 41, to: 41 },
            { from: 43, to: 211 },
            { from: 214, to: 541 },
          ],
        },
        seqMatch: null,
      },
    });
    expect(cmd('s SELECT INBOX (QRESYNC (1 2 1:5 (1:3 10:12)))').args).toMatchObject({
      qresync: { seqMatch: { seqs: { ranges: [{ from: 1, to: 3 }] }, uids: { ranges: [{ from: 10, to: 12 }] } } },
    });
    expect(cmd('s SELECT INBOX (QRESYNC (1 2 (1:3 10:12)))').args).toMatchObject({ qresync: { knownUids: null } });
    expect(err('s SELECT INBOX (FOO)').text).toBe('Unknown SELECT parameter FOO');
    expect(err('s SELECT INBOX (QRESYNC (0 2))').text).toBe('Invalid UIDVALIDITY "0": out of range');
    expect(err('s SELECT INBOX (QRESYNC (1 0))').text).toBe('Invalid mod-sequence "0": out of range');
    expect(err('s SELECT INBOX (QRESYNC (1 9223372036854775808))').text).toMatch(/out of range/);
    expect(err('s SELECT').text).toBe('Missing mailbox name');
  });

  it('modified UTF-7 names are decoded, invalid ones refused with NO', () => {
    expect(cmd('c CREATE "~peter/mail/&U,BTFw-/&ZeVnLIqe-"').args).toEqual({ mailbox: '~peter/mail/台北/日本語', specialUse: [] });
    expect(cmd('c CREATE A&-B').args).toMatchObject({ mailbox: 'A&B' });
    expect(err('c CREATE &AGE-')).toMatchObject({ status: 'NO', code: 'CANNOT' });
    expect(err('c CREATE "caf\xc3\xa9"')).toMatchObject({ status: 'NO' });
  });

  it('CREATE with USE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE', () => {
    expect(cmd('c CREATE Drafts2 (USE (\\drafts \\Sent))').args).toEqual({ mailbox: 'Drafts2', specialUse: ['\\Drafts', '\\Sent'] });
    expect(err('c CREATE X (USE (\\Important))')).toMatchObject({ status: 'NO', code: 'USEATTR' });
    expect(cmd('d DELETE "a b"').args).toEqual({ mailbox: 'a b' });
    expect(cmd('r RENAME INBOX Old').args).toEqual({ from: 'INBOX', to: 'Old' });
    expect(err('r RENAME INBOX').text).toBe('Missing new mailbox name');
    expect(cmd('s SUBSCRIBE {4+}\r\nTrsh').args).toEqual({ mailbox: 'Trsh' });
    expect(cmd('s UNSUBSCRIBE x').name).toBe('UNSUBSCRIBE');
  });

  it('LIST classic and extended, LSUB, XLIST', () => {
    const plainSel = { subscribed: false, remote: false, recursiveMatch: false, specialUse: false };
    const plainRet = { subscribed: false, children: false, specialUse: false, status: null };
    expect(cmd('l LIST "" *').args).toEqual({ reference: '', patterns: ['*'], selection: plainSel, returnOptions: plainRet, extended: false });
    expect(cmd('l LIST "" %.%').args).toMatchObject({ patterns: ['%.%'] });
    expect(cmd('l LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" "Sent*") RETURN (CHILDREN STATUS (MESSAGES UNSEEN))').args).toEqual({
      reference: '',
      patterns: ['INBOX', 'Sent*'],
      selection: { ...plainSel, subscribed: true, recursiveMatch: true },
      returnOptions: { ...plainRet, children: true, status: ['MESSAGES', 'UNSEEN'] },
      extended: true,
    });
    expect(cmd('l LIST "" * RETURN (SPECIAL-USE)').args).toMatchObject({ extended: true, returnOptions: { specialUse: true } });
    expect(cmd('l LIST (SPECIAL-USE) "" *').args).toMatchObject({ selection: { specialUse: true } });
    expect(err('l LIST (RECURSIVEMATCH) "" *').text).toBe('RECURSIVEMATCH needs another selection option');
    expect(err('l LIST (BOGUS) "" *').text).toBe('Unknown LIST selection option BOGUS');
    expect(err('l LIST "" * RETURN (BOGUS)').text).toBe('Unknown LIST return option BOGUS');
    expect(err('l LIST ""').text).toBe('Missing mailbox pattern');
    expect(cmd('l LSUB "" "*"').args).toEqual({ reference: '', pattern: '*' });
    expect(cmd('l XLIST "" %').args).toEqual({ reference: '', pattern: '%' });
  });

  it('STATUS', () => {
    expect(cmd('s STATUS blurdybloop (UIDNEXT messages HIGHESTMODSEQ SIZE uidnext)').args).toEqual({
      mailbox: 'blurdybloop',
      items: ['UIDNEXT', 'MESSAGES', 'HIGHESTMODSEQ', 'SIZE'],
    });
    expect(err('s STATUS x (FOO)').text).toBe('Unknown STATUS item FOO');
    expect(err('s STATUS x ()').text).toBe('Empty STATUS item list');
    expect(err('s STATUS x MESSAGES').text).toBe('Invalid STATUS items: expected a parenthesised list');
  });

  it('quota commands', () => {
    expect(cmd('q GETQUOTA ""').args).toEqual({ root: '' });
    expect(cmd('q GETQUOTAROOT inbox').args).toEqual({ mailbox: 'INBOX' });
    expect(cmd('q SETQUOTA "" (storage 512 MESSAGE 1000)').args).toEqual({
      root: '',
      limits: [
        { resource: 'STORAGE', limit: 512 },
        { resource: 'MESSAGE', limit: 1000 },
      ],
    });
  });
});

describe('message commands', () => {
  it('EXPUNGE and UID EXPUNGE', () => {
    expect(cmd('x EXPUNGE')).toEqual({ tag: 'x', uid: false, name: 'EXPUNGE', args: { set: null } });
    expect(cmd('x UID EXPUNGE 3000:3002')).toEqual({ tag: 'x', uid: true, name: 'EXPUNGE', args: { set: { kind: 'ranges', ranges: [{ from: 3000, to: 3002 }] } } });
    expect(err('x UID EXPUNGE').text).toBe('Missing UID set');
  });

  it('COPY, MOVE, UID forms', () => {
    expect(cmd('c COPY 2:4 MEETING').args).toEqual({ set: { kind: 'ranges', ranges: [{ from: 2, to: 4 }] }, mailbox: 'MEETING' });
    expect(cmd('c UID MOVE 42:69 foo')).toMatchObject({ uid: true, name: 'MOVE' });
    expect(cmd('c MOVE $ Trash').args).toEqual({ set: { kind: 'saved' }, mailbox: 'Trash' });
    expect(err('c COPY').text).toBe('Missing sequence set');
    expect(err('c COPY 0 x').text).toBe('Invalid sequence set "0"');
    expect(err('c COPY 1:x x').text).toBe('Invalid sequence set "1:x"');
  });

  it('STORE variants', () => {
    expect(cmd('s STORE 2:4 +FLAGS (\\deleted)').args).toEqual({
      set: { kind: 'ranges', ranges: [{ from: 2, to: 4 }] },
      op: 'add',
      silent: false,
      flags: ['\\Deleted'],
      unchangedSince: null,
    });
    expect(cmd('s STORE 1 -flags.silent \\Seen $Junk').args).toMatchObject({ op: 'remove', silent: true, flags: ['\\Seen', '$Junk'] });
    expect(cmd('s STORE 1 FLAGS ()').args).toMatchObject({ op: 'set', flags: [] });
    expect(cmd('s UID STORE 1:* (UNCHANGEDSINCE 12345) +FLAGS.SILENT (\\Seen)').args).toMatchObject({ set: all, unchangedSince: '12345n', silent: true });
    expect(cmd('s STORE 1 (UNCHANGEDSINCE 0) FLAGS (a)').args).toMatchObject({ unchangedSince: '0n' });
    expect(err('s STORE 1 +FLAGS').text).toBe('Missing flags');
    expect(err('s STORE 1 FLAGZ (a)').text).toBe('Invalid STORE data item FLAGZ');
    expect(err('s STORE 1 +FLAGS (a%b)').text).toBe('Invalid flag "a%b"');
    expect(err('s STORE 1 (FOO 1) +FLAGS (a)').text).toBe('Unknown STORE modifier FOO');
  });

  it('FETCH items, macros, sections and partials', () => {
    expect(cmd('f FETCH 1:* (FLAGS)').args).toEqual({ set: all, items: [{ item: 'FLAGS' }], macro: null, changedSince: null, vanished: false });
    expect(cmd('f FETCH 2 all').args).toMatchObject({
      macro: 'ALL',
      items: [{ item: 'FLAGS' }, { item: 'INTERNALDATE' }, { item: 'RFC822.SIZE' }, { item: 'ENVELOPE' }],
    });
    expect(cmd('f FETCH 2 FAST').args).toMatchObject({ items: [{ item: 'FLAGS' }, { item: 'INTERNALDATE' }, { item: 'RFC822.SIZE' }] });
    expect((cmd('f FETCH 2 FULL').args as { items: unknown[] }).items).toHaveLength(5);
    expect(cmd('f FETCH 2 body[]').args).toMatchObject({ items: [{ item: 'BODY[]', section: { part: [], specifier: null, fields: [] }, partial: null, peek: false }] });
    expect(cmd('f UID FETCH 4827313:4828442 (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (From "Subject")]<0.2048> BODYSTRUCTURE)').args).toMatchObject({
      items: [
        { item: 'UID' },
        { item: 'RFC822.SIZE' },
        { item: 'BODY[]', section: { part: [], specifier: 'HEADER.FIELDS', fields: ['From', 'Subject'] }, partial: { offset: 0, length: 2048 }, peek: true },
        { item: 'BODYSTRUCTURE' },
      ],
    });
    expect(cmd('f FETCH 1 (BODY[1.2.MIME] BODY[3.TEXT] BODY[4.1] BODY[HEADER.FIELDS.NOT (X-A)] BODY[TEXT]<10.20>)').args).toMatchObject({
      items: [
        { section: { part: [1, 2], specifier: 'MIME' } },
        { section: { part: [3], specifier: 'TEXT' } },
        { section: { part: [4, 1], specifier: null } },
        { section: { part: [], specifier: 'HEADER.FIELDS.NOT', fields: ['X-A'] } },
        { section: { specifier: 'TEXT' }, partial: { offset: 10, length: 20 } },
      ],
    });
    expect(cmd('f FETCH 1 (BINARY[1]<0.100> BINARY.PEEK[2] BINARY.SIZE[1] RFC822 RFC822.HEADER RFC822.TEXT ENVELOPE BODY INTERNALDATE MODSEQ)').args).toMatchObject({
      items: [
        { item: 'BINARY[]', part: [1], partial: { offset: 0, length: 100 }, peek: false },
        { item: 'BINARY[]', part: [2], peek: true },
        { item: 'BINARY.SIZE', part: [1] },
        { item: 'RFC822' },
        { item: 'RFC822.HEADER' },
        { item: 'RFC822.TEXT' },
        { item: 'ENVELOPE' },
        { item: 'BODY' },
        { item: 'INTERNALDATE' },
        { item: 'MODSEQ' },
      ],
    });
    expect(cmd('f FETCH 1 (FLAGS flags UID)').args).toMatchObject({ items: [{ item: 'FLAGS' }, { item: 'UID' }] });
  });

  it('FETCH modifiers (RFC 7162)', () => {
    expect(cmd('f FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)').args).toMatchObject({ changedSince: '12345n', items: [{ item: 'FLAGS' }, { item: 'MODSEQ' }] });
    expect(cmd('f UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)').args).toMatchObject({ vanished: true });
    expect(cmd('f FETCH 1:* (FLAGS) (CHANGEDSINCE 0)').args).toMatchObject({ changedSince: '0n' });
    expect(err('f FETCH 1:* (FLAGS) (CHANGEDSINCE 9223372036854775808)').text).toBe('Invalid CHANGEDSINCE value "9223372036854775808": out of range');
    expect(err('f FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)').text).toBe('VANISHED is only allowed in UID FETCH');
    expect(err('f UID FETCH 1 (FLAGS) (VANISHED)').text).toBe('VANISHED requires CHANGEDSINCE');
    expect(err('f FETCH 1 (FLAGS) (FOO)').text).toBe('Unknown FETCH modifier FOO');
  });

  it('FETCH errors', () => {
    expect(err('f FETCH').text).toBe('Missing sequence set');
    expect(err('f FETCH 1').text).toBe('Missing FETCH items');
    expect(err('f FETCH 1 (FLAGS BOGUS)').text).toBe('Unknown FETCH item BOGUS');
    expect(err('f FETCH 1 ()').text).toBe('Empty FETCH item list');
    expect(err('f FETCH 1 BODY[MIME]').text).toBe('MIME section needs a part number');
    expect(err('f FETCH 1 BODY[0]').text).toBe('Invalid section part number "0": out of range');
    expect(err('f FETCH 1 BODY[1.FOO]').text).toBe('Invalid section "1.FOO"');
    expect(err('f FETCH 1 BODY[HEADER.FIELDS]').text).toBe('Missing header field list');
    expect(err('f FETCH 1 BODY[HEADER.FIELDS ()]').text).toBe('Empty header field list');
    expect(err('f FETCH 1 BODY[]<5>').text).toBe('Invalid partial range <5>');
    expect(err('f FETCH 1 BODY[]<0.0>').text).toBe('Invalid partial length "0": out of range');
    expect(err('f FETCH 1 BODY[TEXT').text).toBe('Missing "]"');
    expect(err('f FETCH 1 (FLAGS').text).toBe('Missing ")"');
    expect(err('f FETCH 1 FLAGS)').text).toBe('Unexpected ")"');
    expect(err('f FETCH 1 BINARY[1.TEXT]').text).toBe('Invalid section "1.TEXT"');
    expect(err('f FETCH 1 BINARY.SIZE[1]<0.5>').text).toBe('BINARY.SIZE takes no partial range');
    expect(err('f FETCH 1 (BODY[]x)').text).toBe('Missing space before "x"');
  });
});

describe('SEARCH, SORT, THREAD', () => {
  it('every RFC 3501 key', () => {
    const keys =
      'ALL ANSWERED BCC a BEFORE 1-Feb-1994 BODY b CC c DELETED DRAFT FLAGGED FROM "Smith" HEADER X-Y z KEYWORD $Junk LARGER 10 NEW NOT SEEN OLD ON 01-Jan-2000 OR SEEN DRAFT RECENT SEEN SENTBEFORE 2-Mar-2001 SENTON 3-Apr-2002 SENTSINCE 4-May-2003 SINCE 5-Jun-2004 SMALLER 20 SUBJECT s TEXT t TO u UID 1:5 UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD k UNSEEN 2,4:*';
    const args = cmd(`s SEARCH ${keys}`).args as { program: { key: string; operands: unknown[] } };
    expect(args.program.key).toBe('AND');
    expect(args.program.operands).toEqual([
      { key: 'ALL' },
      { key: 'ANSWERED' },
      { key: 'BCC', value: 'a' },
      { key: 'BEFORE', date: { year: 1994, month: 2, day: 1 } },
      { key: 'BODY', value: 'b' },
      { key: 'CC', value: 'c' },
      { key: 'DELETED' },
      { key: 'DRAFT' },
      { key: 'FLAGGED' },
      { key: 'FROM', value: 'Smith' },
      { key: 'HEADER', field: 'X-Y', value: 'z' },
      { key: 'KEYWORD', flag: '$Junk' },
      { key: 'LARGER', size: 10 },
      { key: 'NEW' },
      { key: 'NOT', operand: { key: 'SEEN' } },
      { key: 'OLD' },
      { key: 'ON', date: { year: 2000, month: 1, day: 1 } },
      { key: 'OR', left: { key: 'SEEN' }, right: { key: 'DRAFT' } },
      { key: 'RECENT' },
      { key: 'SEEN' },
      { key: 'SENTBEFORE', date: { year: 2001, month: 3, day: 2 } },
      { key: 'SENTON', date: { year: 2002, month: 4, day: 3 } },
      { key: 'SENTSINCE', date: { year: 2003, month: 5, day: 4 } },
      { key: 'SINCE', date: { year: 2004, month: 6, day: 5 } },
      { key: 'SMALLER', size: 20 },
      { key: 'SUBJECT', value: 's' },
      { key: 'TEXT', value: 't' },
      { key: 'TO', value: 'u' },
      { key: 'UID', set: { kind: 'ranges', ranges: [{ from: 1, to: 5 }] } },
      { key: 'UNANSWERED' },
      { key: 'UNDELETED' },
      { key: 'UNDRAFT' },
      { key: 'UNFLAGGED' },
      { key: 'UNKEYWORD', flag: 'k' },
      { key: 'UNSEEN' },
      { key: 'SEQ', set: { kind: 'ranges', ranges: [{ from: 2, to: 2 }, { from: 4, to: '*' }] } },
    ]);
  });

  it('groups, OR/NOT nesting, charset, literals, extensions', () => {
    expect(cmd('s SEARCH (OR FROM a (TO b NOT CC c))').args).toEqual({
      charset: null,
      returnOptions: null,
      program: {
        key: 'OR',
        left: { key: 'FROM', value: 'a' },
        right: { key: 'AND', operands: [{ key: 'TO', value: 'b' }, { key: 'NOT', operand: { key: 'CC', value: 'c' } }] },
      },
    });
    expect(cmd('s SEARCH CHARSET utf-8 SUBJECT {6+}\r\n\xc3\xa4rger').args).toEqual({
      charset: 'UTF-8',
      returnOptions: null,
      program: { key: 'SUBJECT', value: 'ärger' },
    });
    expect(cmd('s SEARCH MODSEQ "/flags/\\\\draft" all 620162338').args).toMatchObject({
      program: { key: 'MODSEQ', modseq: '620162338n', entry: { name: '/flags/\\draft', type: 'all' } },
    });
    expect(cmd('s SEARCH MODSEQ 5').args).toMatchObject({ program: { key: 'MODSEQ', modseq: '5n', entry: null } });
    expect(cmd('s SEARCH YOUNGER 3600 OLDER 60').args).toMatchObject({ program: { operands: [{ key: 'YOUNGER', seconds: 3600 }, { key: 'OLDER', seconds: 60 }] } });
    expect(cmd('s UID SEARCH RETURN (MIN COUNT) UNSEEN')).toMatchObject({ uid: true, args: { returnOptions: ['MIN', 'COUNT'] } });
    expect(cmd('s SEARCH RETURN () ALL').args).toMatchObject({ returnOptions: ['ALL'] });
    expect(cmd('s SEARCH RETURN (SAVE) ALL').args).toMatchObject({ returnOptions: ['SAVE'] });
    expect(cmd('s SEARCH $').args).toMatchObject({ program: { key: 'SEQ', set: { kind: 'saved' } } });
    expect(cmd('s SEARCH ON "1-Feb-2024"').args).toMatchObject({ program: { date: { year: 2024, month: 2, day: 1 } } });
  });

  it('SEARCH errors', () => {
    expect(err('s SEARCH').text).toBe('Missing search criteria');
    expect(err('s SEARCH FOO').text).toBe('Unknown search key FOO');
    expect(err('s SEARCH FROM').text).toBe('Missing FROM string');
    expect(err('s SEARCH OR SEEN').text).toBe('Missing search key');
    expect(err('s SEARCH ()').text).toBe('Empty search group');
    expect(err('s SEARCH BEFORE 31-Feb-2024').text).toBe('Invalid date "31-Feb-2024"');
    expect(err('s SEARCH SINCE 2024-01-01').text).toBe('Invalid date "2024-01-01" (expected dd-Mon-yyyy)');
    expect(err('s SEARCH CHARSET KOI8-R ALL')).toEqual({ kind: 'error', tag: 's', status: 'NO', code: 'BADCHARSET (US-ASCII UTF-8)', text: 'Unsupported charset KOI8-R' });
    expect(err('s SEARCH RETURN (FOO) ALL').text).toBe('Unknown SEARCH RETURN option FOO');
    expect(err('s SEARCH LARGER x').text).toBe('Invalid LARGER size "x": expected a number');
    expect(err(`s SEARCH ${'NOT '.repeat(40)}SEEN`).text).toBe('Search program nested too deeply');
  });

  it('SORT and THREAD', () => {
    expect(cmd('s SORT (REVERSE DATE subject) UTF-8 ALL').args).toEqual({
      criteria: [
        { key: 'DATE', reverse: true },
        { key: 'SUBJECT', reverse: false },
      ],
      charset: 'UTF-8',
      program: { key: 'ALL' },
      returnOptions: null,
    });
    expect(cmd('s UID SORT RETURN (ALL COUNT) (DISPLAYFROM) US-ASCII UNSEEN')).toMatchObject({ uid: true, args: { returnOptions: ['ALL', 'COUNT'] } });
    expect(err('s SORT (REVERSE) UTF-8 ALL').text).toBe('REVERSE must precede a sort key');
    expect(err('s SORT (FOO) UTF-8 ALL').text).toBe('Unknown sort criterion FOO');
    expect(err('s SORT (DATE) UTF-8').text).toBe('Missing search criteria');
    expect(cmd('t THREAD references UTF-8 SINCE 1-Jan-2020').args).toEqual({
      algorithm: 'REFERENCES',
      charset: 'UTF-8',
      program: { key: 'SINCE', date: { year: 2020, month: 1, day: 1 } },
    });
    expect(cmd('t UID THREAD ORDEREDSUBJECT UTF-8 ALL')).toMatchObject({ uid: true, name: 'THREAD' });
    expect(err('t THREAD FOO UTF-8 ALL').text).toBe('Unknown threading algorithm FOO');
  });
});

describe('syntax details', () => {
  it('keywords are case-insensitive, extra spaces tolerated, bare LF accepted', () => {
    expect(cmd('a fetch 1 (flags uid)').args).toMatchObject({ items: [{ item: 'FLAGS' }, { item: 'UID' }] });
    expect(cmd('a  FETCH  1  (FLAGS)\n').args).toMatchObject({ set: one(1) });
  });

  it('8-bit and control characters outside strings are refused', () => {
    expect(err('a SELECT caf\xe9').text).toBe('8-bit character in atom (use a quoted string or literal)');
    expect(err('a SELECT a\x01b').text).toBe('Control character in command');
    expect(err('a SELECT a{b').text).toBe('Invalid character "{" in atom');
  });
});

describe('NOTIFY (RFC 5465 §8)', () => {
  it('NONE, SET with STATUS and every filter', () => {
    expect(cmd('n NOTIFY none').args).toEqual({ kind: 'none' });
    expect(
      cmd('n NOTIFY SET STATUS (selected (MessageNew MessageExpunge)) (inboxes (messagenew)) (personal (MailboxName SubscriptionChange)) (subscribed NONE) (subtree (Lists "a b") (FlagChange)) (mailboxes inbox.x (MessageExpunge))').args,
    ).toEqual({
      kind: 'set',
      status: true,
      groups: [
        { filter: { kind: 'selected', delayed: false }, events: ['MessageNew', 'MessageExpunge'], unsupported: [] },
        { filter: { kind: 'inboxes' }, events: ['MessageNew'], unsupported: [] },
        { filter: { kind: 'personal' }, events: ['MailboxName', 'SubscriptionChange'], unsupported: [] },
        { filter: { kind: 'subscribed' }, events: [], unsupported: [] },
        { filter: { kind: 'subtree', names: ['Lists', 'a b'] }, events: ['FlagChange'], unsupported: [] },
        { filter: { kind: 'mailboxes', names: ['INBOX.x'] }, events: ['MessageExpunge'], unsupported: [] },
      ],
    });
    expect(cmd('n NOTIFY SET (selected-delayed (MessageNew)) (mailboxes {3+}\r\nOne (AnnotationChange x-Foo))').args).toEqual({
      kind: 'set',
      status: false,
      groups: [
        { filter: { kind: 'selected', delayed: true }, events: ['MessageNew'], unsupported: [] },
        { filter: { kind: 'mailboxes', names: ['One'] }, events: [], unsupported: ['AnnotationChange', 'x-Foo'] },
      ],
    });
  });

  it('refusals', () => {
    expect(err('n NOTIFY').text).toBe('Missing NOTIFY SET or NONE');
    expect(err('n NOTIFY SET').text).toBe('Missing NOTIFY event group');
    expect(err('n NOTIFY NONE x').text).toBe('Unexpected extra arguments to NOTIFY');
    expect(err('n NOTIFY SET (personal)').text).toBe('Missing NOTIFY events');
    expect(err('n NOTIFY SET (personal ())').text).toBe('Invalid NOTIFY events: expected a list of events or NONE');
    expect(err('n NOTIFY SET (everything (MessageNew))').text).toBe('Unknown NOTIFY filter EVERYTHING');
    expect(err('n NOTIFY SET (mailboxes () (MessageNew))').text).toBe('Empty NOTIFY mailbox list');
    expect(err('n NOTIFY SET (selected (MessageNew (UID FLAGS)))').text).toBe('MessageNew with fetch attributes is not supported');
    expect(err('n NOTIFY SET (selected (MessageNew)) (selected-delayed (MessageNew))').text).toBe('NOTIFY names the selected mailbox more than once');
    expect(err('n NOTIFY SET (selected (MailboxName))').text).toBe('Only message events may be given for the selected mailbox');
  });

  it(`at most LIMITS.imap.notifyMaxMailboxes (${LIMITS.imap.notifyMaxMailboxes}) names: N parses, N+1 is NO [LIMIT]`, () => {
    const names = (k: number) => Array.from({ length: k }, (_, i) => `m${i}`);
    const half = Math.floor(LIMITS.imap.notifyMaxMailboxes / 2);
    const line = (k: number) => `n NOTIFY SET (subtree (${names(half).join(' ')}) (MessageNew)) (mailboxes (${names(k - half).join(' ')}) (MessageNew))`;
    const a = parseLine(line(LIMITS.imap.notifyMaxMailboxes));
    expect(a.kind).toBe('command');
    const b = parseLine(line(LIMITS.imap.notifyMaxMailboxes + 1));
    expect(b).toMatchObject({ kind: 'error', status: 'NO', code: 'LIMIT', text: `NOTIFY names too many mailboxes (limit ${LIMITS.imap.notifyMaxMailboxes})` });
  });
});
