import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { addQuotaDelta, quotaWritten, readMaildirSize, usage, wouldExceed } from '../../src/store/maildir/quota.js';
import { LIMITS } from '../../src/limits.js';
import type { Account } from '../../src/accounts/directory.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roost-quota-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('maildirsize parsed incrementally', () => {
  it('follows appends by us and by others, a half-written line, and a rewrite by rename', async () => {
    const file = path.join(dir, 'maildirsize');
    const a: Account = { id: 'u', address: 'u@x', login: 'u', maildir: dir, quotaBytes: 1000, quotaMessages: 0, maxMessageSize: 0, status: 'active' };
    await addQuotaDelta(a, 5, 1); // no file: quota not kept, nothing created
    expect(fs.existsSync(file)).toBe(false);
    fs.writeFileSync(file, '1000S\n100 2\n');
    expect(await readMaildirSize(dir)).toMatchObject({ limitBytes: 1000, bytes: 100, messages: 2, lines: 2 });
    await addQuotaDelta(a, 50, 1);
    fs.appendFileSync(file, '-20 -1\n30 ');
    // The trailing half line is not counted until it is complete.
    expect(await readMaildirSize(dir)).toMatchObject({ bytes: 130, messages: 2, lines: 4 });
    fs.appendFileSync(file, '1\n');
    expect(await readMaildirSize(dir)).toMatchObject({ bytes: 160, messages: 3, lines: 5 });
    const tmp = path.join(dir, 'maildirsize.tmp');
    fs.writeFileSync(tmp, '2000S,10C\n7 1\n');
    fs.renameSync(tmp, file);
    expect(await readMaildirSize(dir)).toMatchObject({ limitBytes: 2000, limitMessages: 10, bytes: 7, messages: 1, lines: 2 });
    fs.unlinkSync(file);
    expect(await readMaildirSize(dir)).toBeNull();
  });
});

describe('maildirsize read off the event loop, by overlapping callers', () => {
  it('overlapping reads of a grown file count each new line once', async () => {
    const md = fs.mkdtempSync(path.join(dir, 'overlap-'));
    const file = path.join(md, 'maildirsize');
    fs.writeFileSync(file, '1000S\n100 2\n');
    expect(await readMaildirSize(md)).toMatchObject({ bytes: 100, messages: 2, lines: 2 });
    fs.appendFileSync(file, '10 1\n20 1\n');
    const all = await Promise.all(Array.from({ length: 8 }, () => readMaildirSize(md)));
    for (const q of all) expect(q).toMatchObject({ bytes: 130, messages: 4, lines: 4 });
    expect(await readMaildirSize(md)).toMatchObject({ bytes: 130, messages: 4, lines: 4 });
  });

  it('overlapping recounts (limits changed) all finish and agree with the Maildir', async () => {
    const md = fs.mkdtempSync(path.join(dir, 'recount-'));
    for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(md, sub));
    for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(md, 'cur', `17000000${i}.M${i}P1.h,S=5:2,`), 'hello');
    fs.writeFileSync(path.join(md, 'maildirsize'), '999S\n0 0\n');
    const a: Account = { id: md, address: 'u@x', login: 'u', maildir: md, quotaBytes: 1000, quotaMessages: 0, maxMessageSize: 0, status: 'active' };
    const all = await Promise.all(Array.from({ length: 6 }, () => usage(a)));
    for (const u of all) expect(u).toEqual({ bytes: 15, messages: 3 });
    expect(fs.readFileSync(path.join(md, 'maildirsize'), 'utf8')).toBe('1000S\n15 3\n');
    expect(fs.readdirSync(path.join(md, 'tmp'))).toEqual([]);
  });
});

describe('maildirsize size bound (store.maildirsizeMaxBytes)', () => {
  /** A maildirsize claiming 500 bytes in 5 messages, padded with blanks to exactly `size` bytes, over an empty Maildir. */
  function claimed(size: number): Account {
    const md = fs.mkdtempSync(path.join(dir, 'size-'));
    for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(md, sub));
    const head = '1000000S\n500 5\n';
    fs.writeFileSync(path.join(md, 'maildirsize'), `${head}0 0${' '.repeat(size - head.length - 4)}\n`);
    expect(fs.statSync(path.join(md, 'maildirsize')).size).toBe(size);
    return { id: md, address: 'u@x', login: 'u', maildir: md, quotaBytes: 1_000_000, quotaMessages: 0, maxMessageSize: 0, status: 'active' };
  }

  it('trusts a file one byte under the bound and recounts one of exactly the bound (README.maildirquota: 5120)', async () => {
    const n = LIMITS.store.maildirsizeMaxBytes;
    expect(await usage(claimed(n - 1))).toEqual({ bytes: 500, messages: 5 });
    // The Maildir is empty: a recount finds nothing, whatever the file claimed.
    expect(await usage(claimed(n))).toEqual({ bytes: 0, messages: 0 });
  });
});

describe('maildirsize deltas written off the event loop', () => {
  function maildir(quotaMessages: number): Account {
    const md = fs.mkdtempSync(path.join(dir, 'delta-'));
    for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(md, sub));
    return { id: md, address: 'u@x', login: 'u', maildir: md, quotaBytes: 1_000_000, quotaMessages, maxMessageSize: 0, status: 'active' };
  }

  it('concurrent deltas are all written, each line whole', async () => {
    const a = maildir(0);
    fs.writeFileSync(path.join(a.maildir, 'maildirsize'), '1000000S\n0 0\n');
    const n = 40;
    await Promise.all(Array.from({ length: n }, (_, i) => addQuotaDelta(a, i + 1, 1)));
    expect(await readMaildirSize(a.maildir)).toMatchObject({ bytes: (n * (n + 1)) / 2, messages: n, lines: n + 2 });
    const lines = fs.readFileSync(path.join(a.maildir, 'maildirsize'), 'utf8').split('\n').slice(2, -1);
    expect(lines.map((l) => Number(l.split(' ')[0])).sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  });

  it('a quota check made while deltas are being written counts them (N messages allowed, N + 1 refused)', async () => {
    const n = 10;
    const a = maildir(n);
    // The messages are there; the file has not heard of them yet: their deltas are on their way, not awaited.
    fs.writeFileSync(path.join(a.maildir, 'maildirsize'), `1000000S,${n}C\n0 0\n`);
    for (let i = 0; i < n - 1; i++) fs.writeFileSync(path.join(a.maildir, 'cur', `17000000${i}.M${i}P1.h,S=5:2,`), 'hello');
    for (let i = 0; i < n - 1; i++) void addQuotaDelta(a, 5, 1);
    expect(await wouldExceed(a, 5, 1)).toBe(false);
    fs.writeFileSync(path.join(a.maildir, 'cur', `1700000099.M99P1.h,S=5:2,`), 'hello');
    void addQuotaDelta(a, 5, 1);
    expect(await wouldExceed(a, 5, 1)).toBe(true);
    await quotaWritten(a.maildir);
    expect(await readMaildirSize(a.maildir)).toMatchObject({ messages: n });
  });
});
