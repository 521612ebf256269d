/**
 * store.maildirsizeFreshMs at N and N+1 (README.maildirquota): a small
 * maildirsize that says a delivery would go over quota is trusted while it
 * is younger than the limit (the delivery is deferred without a recount),
 * and recounted once it is older (the Maildir is really almost empty, so
 * the delivery is taken). Real files with set mtimes, real QMQP deliveries.
 */
import { readFileSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { LIMITS } from '../../src/limits.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { qmqpSend } from '../helpers/qmqp.js';

const QUOTA = 100_000;
let t: TestNode;
let quota: Account;

beforeAll(async () => {
  t = await startTestNode();
  quota = await t.addUser('q@example.org', 'pw', { quotaBytes: QUOTA });
  // One small delivery: the Maildir and its maildirsize exist.
  expect((await qmqpSend(t.ports.qmqp!, 'Subject: first\n\nx\n', '', ['q@example.org'])).code).toBe('K');
});
afterAll(async () => {
  await t?.stop();
});

/** maildirsize rewritten to claim the quota is all but used (two lines: limits, one usage line), written as a new file dated `ageMs` ago. */
function claimFull(ageMs: number): void {
  const file = path.join(quota.maildir, 'maildirsize');
  const limitsLine = readFileSync(file, 'utf8').split('\n')[0]!;
  // As Courier and qmail-ldap rewrite it: a new file renamed over the old one.
  const tmp = path.join(quota.maildir, 'tmp', `maildirsize.${process.pid}`);
  writeFileSync(tmp, `${limitsLine}\n${QUOTA - 10} 1\n`);
  const when = (Date.now() - ageMs) / 1000;
  utimesSync(tmp, when, when);
  renameSync(tmp, file);
}

describe('store.maildirsizeFreshMs', () => {
  const N = LIMITS.store.maildirsizeFreshMs;
  it('a small maildirsize younger than the limit is trusted (over quota: Z); older than it is recounted (K)', async () => {
    claimFull(N - 60_000);
    const young = await qmqpSend(t.ports.qmqp!, 'Subject: young\n\nx\n', '', ['q@example.org']);
    expect(young.code).toBe('Z');
    expect(young.text).toMatch(/quota/i);
    claimFull(N + 60_000);
    expect((await qmqpSend(t.ports.qmqp!, 'Subject: old\n\nx\n', '', ['q@example.org'])).code).toBe('K');
    // The recount replaced the claim with the real usage.
    const usage = readFileSync(path.join(quota.maildir, 'maildirsize'), 'utf8').split('\n')[1]!;
    expect(Number(usage.split(' ')[0])).toBeLessThan(1000);
  });
});
