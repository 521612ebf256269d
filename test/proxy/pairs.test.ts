/** cluster.hosts values (src/proxy/pairs.ts): a service address, or the nodes' admin listeners. */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { getHealth, parsePairSpec } from '../../src/proxy/pairs.js';

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

describe('getHealth', () => {
  it('gives up on a node that drips its answer a byte at a time (a total deadline, not an idle one)', { timeout: 30_000 }, async () => {
    const timers = new Set<NodeJS.Timeout>();
    const server = net.createServer((sock) => {
      sock.on('error', () => undefined);
      sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{');
      // One byte every 50 ms, at most 2,000 (100 s, past the test's own timeout): never idle for the deadline, never done.
      let n = 0;
      const t = setInterval(() => {
        if (++n > 2000 || sock.destroyed) return clearInterval(t);
        sock.write(' ');
      }, 50);
      timers.add(t);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as net.AddressInfo).port;
      expect(await getHealth({ host: '127.0.0.1', port }, 500)).toBeNull();
    } finally {
      for (const t of timers) clearInterval(t);
      server.close();
    }
  });

  it('reads a node that answers', async () => {
    const server = net.createServer((sock) => {
      sock.on('error', () => undefined);
      sock.on('data', () => sock.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"role":"primary","ready":true}'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as net.AddressInfo).port;
      expect(await getHealth({ host: '127.0.0.1', port }, 2000)).toEqual({ role: 'primary', ready: true });
    } finally {
      server.close();
    }
  });
});
