/** Outbound config keys: defaults, and typos caught at load (a node must not start with a smarthost it cannot parse). */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { LIMITS } from '../../src/limits.js';
import { parseCidrList } from '../../src/net/cidr.js';
import { parseHostPort } from '../../src/outbound/targets.js';
import { makeTempDir } from '../helpers/node.js';

let dir: string;
beforeAll(async () => {
  dir = await makeTempDir();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(name: string, text: string) {
  const f = path.join(dir, name);
  await writeFile(f, text);
  return loadConfig(f);
}

describe('outbound configuration', () => {
  it('defaults: remote delivery off, loopback may relay', async () => {
    const c = await load('empty.toml', '');
    expect(c.outbound).toEqual({ smarthosts: [], local_domains: [], starttls: 'opportunistic', tls_verify: true, timeout_ms: 0 });
    expect(c.qmqp.relay_from).toEqual(['127.0.0.0/8', '::1/128']);
    expect(c.cluster).toEqual({ qmqp_port: 628, imap_port: 143, pop3_port: 110, hosts: {} });
  });

  it('reads cluster.hosts as a table of pairs (service address, or admin listeners) and refuses anything else', async () => {
    const c = await load('cluster.toml', '[cluster]\nqmqp_port = 7628\nhosts = { "mx2.example.org" = "10.0.0.2", "mx3.example.org" = "10.0.3.11:8025 10.0.3.12:8025" }\n[directory.ldap]\nother_host = "forward"\n');
    expect(c.cluster).toEqual({ qmqp_port: 7628, imap_port: 143, pop3_port: 110, hosts: { 'mx2.example.org': '10.0.0.2', 'mx3.example.org': '10.0.3.11:8025 10.0.3.12:8025' } });
    expect(c.directory.ldap.other_host).toBe('forward');
    await expect(load('cbad1.toml', '[cluster]\nhosts = ["x"]\n')).rejects.toThrow(/cluster.hosts/);
    await expect(load('cbad2.toml', '[cluster]\nhosts = { mx2 = "a b" }\n')).rejects.toThrow(/cluster.hosts.mx2/);
  });

  it('refuses a smarthost that is not host:port and a relay_from entry that is not CIDR', async () => {
    await expect(load('bad1.toml', '[outbound]\nsmarthosts = ["mx.example:99999"]\n')).rejects.toThrow(ConfigError);
    await expect(load('bad2.toml', '[outbound]\nsmarthosts = ["a b"]\n')).rejects.toThrow(/outbound.smarthosts\[0\]/);
    await expect(load('bad3.toml', '[qmqp]\nrelay_from = ["10.0.0.0/33"]\n')).rejects.toThrow(/qmqp.relay_from/);
    await expect(load('bad4.toml', '[qmqp]\nrelay_from = ["example.org"]\n')).rejects.toThrow(ConfigError);
  });

  it(`accepts ${LIMITS.outbound.maxSmarthosts} smarthosts and refuses one more`, async () => {
    const list = (n: number): string => JSON.stringify(Array.from({ length: n }, (_, i) => `mx${i}.example:25`));
    expect((await load('max.toml', `[outbound]\nsmarthosts = ${list(LIMITS.outbound.maxSmarthosts)}\n`)).outbound.smarthosts.length).toBe(LIMITS.outbound.maxSmarthosts);
    await expect(load('over.toml', `[outbound]\nsmarthosts = ${list(LIMITS.outbound.maxSmarthosts + 1)}\n`)).rejects.toThrow(/at most/);
  });

  it('parses host:port forms and checks peers against CIDR lists', () => {
    expect(parseHostPort('mx.example', 25)).toEqual({ host: 'mx.example', port: 25 });
    expect(parseHostPort('10.0.0.1:587', 25)).toEqual({ host: '10.0.0.1', port: 587 });
    expect(parseHostPort('[::1]:2525', 25)).toEqual({ host: '::1', port: 2525 });
    expect(parseHostPort('h:65535', 25).port).toBe(65535);
    expect(() => parseHostPort('h:65536', 25)).toThrow();
    const l = parseCidrList(['127.0.0.0/8', '::1/128', '192.0.2.7']);
    expect(l.has('127.1.2.3')).toBe(true);
    expect(l.has('::ffff:127.0.0.1')).toBe(true);
    expect(l.has('::1')).toBe(true);
    expect(l.has('192.0.2.7')).toBe(true);
    expect(l.has('192.0.2.8')).toBe(false);
    expect(l.has('10.0.0.1')).toBe(false);
    expect(l.has('')).toBe(false);
  });
});
