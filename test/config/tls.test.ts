import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadTls } from '../../src/net/tls.js';
import { makeTempDir, testConfig } from '../helpers/node.js';

const log = pino({ level: 'silent' });
let dir: string;
beforeAll(async () => {
  dir = await makeTempDir();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Serve a TLS handshake with `opts` and return the certificate the client saw. */
async function handshake(opts: tls.SecureContextOptions): Promise<tls.PeerCertificate> {
  const server = tls.createServer(opts, (s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    return await new Promise((resolve, reject) => {
      const c = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => {
        resolve(c.getPeerCertificate());
        c.end();
      });
      c.on('error', reject);
    });
  } finally {
    server.close();
  }
}

describe('TLS certificate', () => {
  it('makes a self-signed certificate on first start and reuses it afterwards', async () => {
    const cfg = testConfig(path.join(dir, 'a'), { hostname: 'mail.example.org' });
    const first = await loadTls(cfg, log);
    const onDisk = await readFile(path.join(cfg.paths.dataDir, 'tls', 'cert.pem'), 'utf8');
    expect(onDisk).toMatch(/BEGIN CERTIFICATE/);
    const peer = await handshake(first);
    expect(peer.subject.CN).toBe('mail.example.org');
    const second = await loadTls(cfg, log);
    expect(String(second.cert)).toBe(onDisk);
  });

  it('loads tls.cert / tls.key when configured, and refuses a pair that does not match', async () => {
    const a = await loadTls(testConfig(path.join(dir, 'b'), { hostname: 'b.example' }), log);
    const b = await loadTls(testConfig(path.join(dir, 'c'), { hostname: 'c.example' }), log);
    await writeFile(path.join(dir, 'cert.pem'), String(a.cert));
    await writeFile(path.join(dir, 'key.pem'), String(a.key));
    await writeFile(path.join(dir, 'other-key.pem'), String(b.key));
    const own = await loadTls(testConfig(path.join(dir, 'd'), { tls: { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') } }), log);
    expect((await handshake(own)).subject.CN).toBe('b.example');
    await expect(
      loadTls(testConfig(path.join(dir, 'e'), { tls: { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'other-key.pem') } }), log),
    ).rejects.toThrow(/tls\.cert/);
    await expect(
      loadTls(testConfig(path.join(dir, 'f'), { tls: { cert: path.join(dir, 'missing.pem'), key: path.join(dir, 'key.pem') } }), log),
    ).rejects.toThrow(/tls\.cert: cannot read/);
  });
});
