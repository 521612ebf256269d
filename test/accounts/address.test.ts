/** Account addresses (src/accounts/address.ts) at the RFC 5321 §4.5.3.1 lengths, N and N+1. */
import { describe, expect, it } from 'vitest';
import { parseAccountAddress } from '../../src/accounts/address.js';
import { LIMITS } from '../../src/limits.js';

/** A domain of exactly `length` characters made of labels of at most 63 (RFC 1035 §2.3.4). */
function domainOf(length: number): string {
  const labels: string[] = [];
  let left = length;
  while (left > 0) {
    const n = Math.min(63, labels.length === 0 ? left : left - 1);
    labels.push('d'.repeat(n));
    left -= n + (labels.length === 1 ? 0 : 1);
  }
  return labels.join('.');
}

describe('account addresses', () => {
  it('take a local part of delivery.maxLocalPartLength octets and refuse one more', () => {
    const n = LIMITS.delivery.maxLocalPartLength;
    expect(parseAccountAddress(`${'a'.repeat(n)}@example.org`)).toEqual({ local: 'a'.repeat(n), domain: 'example.org' });
    expect(parseAccountAddress(`${'a'.repeat(n + 1)}@example.org`)).toBeNull();
  });

  it('take a domain of delivery.maxDomainLength octets and refuse one more', () => {
    const n = LIMITS.delivery.maxDomainLength;
    expect([domainOf(n).length, domainOf(n + 1).length]).toEqual([n, n + 1]);
    expect(parseAccountAddress(`alice@${domainOf(n)}`)).toEqual({ local: 'alice', domain: domainOf(n) });
    expect(parseAccountAddress(`alice@${domainOf(n + 1)}`)).toBeNull();
  });
});
