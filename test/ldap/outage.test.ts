/**
 * Directory outage: slapd is stopped mid-test. Lookups and logins must throw
 * RoostError('UNAVAILABLE') — never "not found", never "failed" — health()
 * says so, and after a restart the same directory object works again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { LdapDirectory } from '../../src/accounts/ldap.js';
import { Slapd, userLdif } from '../helpers/slapd.js';
import { makeDirectory } from './fixtures.js';

const SHA = '{SHA}' + createHash('sha1').update('right').digest('base64');
let slapd: Slapd;
let bind: LdapDirectory;
let compare: LdapDirectory;
let cached: LdapDirectory;

beforeAll(async () => {
  slapd = await Slapd.create();
  await slapd.ldapadd(
    userLdif('u1', { mail: 'u1@example.org', uid: 'u1', mailMessageStore: 'u1/', userPassword: SHA }) +
      userLdif('u2', { mail: 'u2@example.org', uid: 'u2', mailMessageStore: 'u2/', userPassword: SHA }),
  );
  bind = makeDirectory(slapd, { cache_ttl_ms: 0, negative_cache_ttl_ms: 0, timeout_ms: 1000 }).dir;
  compare = makeDirectory(slapd, { auth_mode: 'compare', cache_ttl_ms: 0, negative_cache_ttl_ms: 0, timeout_ms: 1000 }).dir;
  cached = makeDirectory(slapd, { cache_ttl_ms: 60_000, negative_cache_ttl_ms: 60_000, timeout_ms: 1000 }).dir;
});
afterAll(async () => {
  for (const d of [bind, compare, cached]) await d?.close();
  await slapd?.destroy();
});

const unavailable = { name: 'RoostError', code: 'UNAVAILABLE' };

describe('LDAP outage', () => {
  it('works, fails with UNAVAILABLE while slapd is down, and recovers after restart', async () => {
    // Warm the pools (idle connections that the stop will cut) and the cache.
    expect((await bind.lookupRecipient('u1@example.org')).kind).toBe('found');
    expect((await bind.authenticate('u1', 'right')).kind).toBe('ok');
    expect((await compare.authenticate('u1', 'right')).kind).toBe('ok');
    expect((await cached.lookupRecipient('u1@example.org')).kind).toBe('found');
    expect((await cached.lookupRecipient('ghost@example.org')).kind).toBe('rejected');
    expect(bind.health().ok).toBe(true);

    await slapd.stop();

    for (const d of [bind, compare]) {
      await expect(d.lookupRecipient('u1@example.org')).rejects.toMatchObject(unavailable);
      await expect(d.lookupRecipient('nobody@example.org')).rejects.toMatchObject(unavailable);
      await expect(d.authenticate('u1', 'right')).rejects.toMatchObject(unavailable);
      await expect(d.authenticate('u1', 'wrong')).rejects.toMatchObject(unavailable);
      await expect(d.authenticate('ghost', 'x')).rejects.toMatchObject(unavailable);
      await expect(d.accountById('u1@example.org')).rejects.toMatchObject(unavailable);
      expect(d.health()).toMatchObject({ ok: false, backend: 'ldap' });
      expect(d.health().detail).toMatch(/unreachable/);
    }
    // Cached answers are still given during the outage; uncached ones are UNAVAILABLE.
    expect((await cached.lookupRecipient('u1@example.org')).kind).toBe('found');
    expect((await cached.lookupRecipient('ghost@example.org')).kind).toBe('rejected');
    await expect(cached.lookupRecipient('u2@example.org')).rejects.toMatchObject(unavailable);
    // Empty passwords are still refused without the server.
    expect(await bind.authenticate('u1', '')).toEqual({ kind: 'failed' });

    await slapd.start();

    expect((await bind.lookupRecipient('u1@example.org')).kind).toBe('found');
    expect((await bind.authenticate('u1', 'right')).kind).toBe('ok');
    expect(await bind.authenticate('u1', 'wrong')).toEqual({ kind: 'failed' });
    expect((await compare.authenticate('u2', 'right')).kind).toBe('ok');
    expect((await cached.lookupRecipient('u2@example.org')).kind).toBe('found');
    expect(bind.health().ok).toBe(true);
  });

  it('health recovers through the background probe without traffic', async () => {
    await slapd.stop();
    await expect(compare.lookupRecipient('u1@example.org')).rejects.toMatchObject(unavailable);
    expect(compare.health().ok).toBe(false);
    await slapd.start();
    const deadline = Date.now() + 10_000;
    while (!compare.health().ok && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(compare.health().ok).toBe(true);
  });

  it('with several servers in url, a dead one is skipped and the live one answers', async () => {
    const dead = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(port));
      });
    });
    const { dir: two } = makeDirectory(slapd, { url: `ldap://127.0.0.1:${dead} ${slapd.url}`, cache_ttl_ms: 0 });
    const { dir: auth } = makeDirectory(slapd, { url: `ldap://127.0.0.1:${dead}/ ${slapd.url}/` });
    try {
      expect((await two.lookupRecipient('u1@example.org')).kind).toBe('found');
      expect((await auth.authenticate('u2', 'right')).kind).toBe('ok');
      expect(two.health().ok).toBe(true);
    } finally {
      await two.close();
      await auth.close();
    }
    expect(() => makeDirectory(slapd, { url: 'ldap://a/x' })).toThrow(/directory\.ldap\.url/);
    expect(() => makeDirectory(slapd, { url: 'http://a' })).toThrow(/directory\.ldap\.url/);
  });

  it('a pooled connection that died silently (idle-dropping firewall) is replaced, not reported as an outage', async () => {
    // A transparent TCP relay in front of the real slapd; "blackhole" makes the open connections go
    // silent (bytes are swallowed, nothing is closed) while new connections still get through.
    const open = new Set<{ silent: boolean }>();
    const relay = net.createServer((client) => {
      const state = { silent: false };
      open.add(state);
      const upstream = net.connect(slapd.port, '127.0.0.1');
      client.on('data', (d) => state.silent || upstream.write(d));
      upstream.on('data', (d) => state.silent || client.write(d));
      const end = () => {
        client.destroy();
        upstream.destroy();
        open.delete(state);
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
    const { port } = relay.address() as net.AddressInfo;
    const { dir: d } = makeDirectory(slapd, { url: `ldap://127.0.0.1:${port}`, cache_ttl_ms: 0, negative_cache_ttl_ms: 0, timeout_ms: 500, pool_size: 1 });
    try {
      expect((await d.lookupRecipient('u1@example.org')).kind).toBe('found');
      for (const st of open) st.silent = true;
      const t0 = Date.now();
      expect((await d.lookupRecipient('u2@example.org')).kind).toBe('found');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(400); // the dead connection cost one timeout
      expect((await d.lookupRecipient('u1@example.org')).kind).toBe('found');
    } finally {
      await d.close();
      for (const st of open) st.silent = true;
      relay.close();
      relay.unref();
    }
  });

  it('a directory opened while the server is down says so in health() before any traffic', async () => {
    await slapd.stop();
    const { dir: late } = makeDirectory(slapd, { timeout_ms: 1000 });
    try {
      const waitFor = async (ok: boolean) => {
        const deadline = Date.now() + 10_000;
        while (late.health().ok !== ok && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        return late.health().ok;
      };
      expect(await waitFor(false)).toBe(false);
      await slapd.start();
      expect(await waitFor(true)).toBe(true);
    } finally {
      await slapd.start();
      await late.close();
    }
  });

  it('a server that accepts but never answers times out as UNAVAILABLE within the configured timeout', async () => {
    // SIGSTOP freezes our slapd: connections stay open, nothing is answered.
    process.kill(slapd.pid!, 'SIGSTOP');
    // Under load the stop can take a moment to land on every thread: wait until the kernel says "T".
    const deadline0 = Date.now() + 5000;
    while (!/^\d+ \(.*\) T/.test(readFileSync(`/proc/${slapd.pid}/stat`, 'utf8')) && Date.now() < deadline0) await new Promise((r) => setTimeout(r, 10));
    try {
      const t0 = Date.now();
      await expect(bind.lookupRecipient('u2@example.org')).rejects.toMatchObject(unavailable);
      await expect(bind.authenticate('u2', 'right')).rejects.toMatchObject(unavailable);
      expect(Date.now() - t0).toBeLessThan(6000);
    } finally {
      process.kill(slapd.pid!, 'SIGCONT');
    }
    const deadline = Date.now() + 10_000;
    let kind = '';
    while (Date.now() < deadline) {
      try {
        kind = (await bind.lookupRecipient('u2@example.org')).kind;
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(kind).toBe('found');
  });
});
