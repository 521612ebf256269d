/**
 * The delivery caps that are pure functions, each at N and N+1: a
 * smarthost's or cluster peer's reply quoted in a refusal, and the memory of
 * accounts already warned about forwards without a hand-off.
 */
import { describe, expect, it } from 'vitest';
import { peerRefusal } from '../../src/delivery/cluster.js';
import { SeenOnce } from '../../src/log/seen-once.js';
import { handOffVerdict } from '../../src/delivery/remote.js';
import { LIMITS } from '../../src/limits.js';

const N = LIMITS.delivery.maxQuotedReplyChars;
/** A reply of exactly `n` characters: an SMTP 550 line padded with text. */
const reply = (n: number) => `550 5.7.1 ${'x'.repeat(n - 11)}.`;

describe('LIMITS.delivery.maxQuotedReplyChars', () => {
  it('a smarthost reply of N characters is quoted whole; of N+1 the last one is cut, the (#5.7.1) code stays', () => {
    for (const n of [N, N + 1]) expect(reply(n)).toHaveLength(n);
    const whole = handOffVerdict({ status: 'permanent', recipients: [{ recipient: 'a@remote.example', status: 'permanent', reply: reply(N) }] });
    expect(whole).toEqual({ code: 'D', text: `a@remote.example: ${reply(N)} (#5.7.1)`, reason: 'remote' });
    const cut = handOffVerdict({ status: 'temporary', recipients: [{ recipient: 'a@remote.example', status: 'temporary', reply: `451 4.3.0 ${'y'.repeat(N + 1 - 10)}` }] });
    expect(cut).toEqual({ code: 'Z', text: `a@remote.example: 451 4.3.0 ${'y'.repeat(N - 10)} (#4.3.0)`, reason: 'remote' });
  });

  it('a cluster peer text of N characters is quoted whole; of N+1 cut to N', () => {
    const text = (n: number) => 'p'.repeat(n);
    expect(peerRefusal('b@example.org', 'mx2.example.org', { code: 'D', text: text(N) })).toEqual({
      code: 'D',
      text: `b@example.org: mx2.example.org said: ${text(N)}`,
      reason: 'remote',
    });
    expect(peerRefusal('b@example.org', 'mx2.example.org', { code: 'Z', text: text(N + 1) })).toEqual({
      code: 'Z',
      text: `b@example.org: mx2.example.org said: ${text(N)}`,
      reason: 'remote',
    });
  });
});

describe('LIMITS.delivery.maxNotedAccounts', () => {
  it('N accounts are all remembered; the N+1st starts the memory over', () => {
    const max = LIMITS.delivery.maxNotedAccounts;
    const seen = new SeenOnce(max);
    for (let i = 0; i < max; i++) expect(seen.first(`forwarding\0u${i}@example.org`)).toBe(true);
    // At N every key is still remembered: no second warning for any of them.
    for (let i = 0; i < max; i++) expect(seen.first(`forwarding\0u${i}@example.org`)).toBe(false);
    expect(seen.first(`forwarding\0u${max}@example.org`)).toBe(true);
    expect(seen.first('forwarding\0u0@example.org')).toBe(true);
    expect(seen.first(`forwarding\0u${max}@example.org`)).toBe(false);
  });
});
