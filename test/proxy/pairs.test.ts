/** cluster.hosts values (src/proxy/pairs.ts): a service address, or the nodes' admin listeners. */
import { describe, expect, it } from 'vitest';
import { parsePairSpec } from '../../src/proxy/pairs.js';

describe('parsePairSpec', () => {
  it.each([
    ['10.0.2.10', { kind: 'address', host: '10.0.2.10' }],
    ['2001:db8::10', { kind: 'address', host: '2001:db8::10' }],
    ['pair2.example.org', { kind: 'address', host: 'pair2.example.org' }],
    ['10.0.2.11:8025', { kind: 'nodes', admins: [{ host: '10.0.2.11', port: 8025 }] }],
    ['10.0.2.11:8025  [2001:db8::12]:8025 node3.example.org:1', { kind: 'nodes', admins: [{ host: '10.0.2.11', port: 8025 }, { host: '2001:db8::12', port: 8025 }, { host: 'node3.example.org', port: 1 }] }],
  ])('%j', (value, want) => {
    expect(parsePairSpec(value)).toEqual(want);
  });

  it.each([[''], ['   '], ['10.0.2.11:8025 10.0.2.12'], ['10.0.2.11:0 10.0.2.12:8025'], ['10.0.2.11:65536'], ['a b']])('refuses %j', (value) => {
    expect(() => parsePairSpec(value)).toThrow();
  });
});
