/**
 * STARTTLS (RFC 3207) against a real Postfix smtpd as the smarthost (a
 * private instance with a self-signed certificate), which relays into a
 * second Roost node over LMTP: the message crosses node → Postfix (TLS) →
 * node. With tls_verify the self-signed certificate is refused (Z, nothing
 * delivered); without it the session is encrypted and the mail arrives.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { inboxMessages } from '../helpers/maildir.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { postfixUsable, startPostfix, type PrivatePostfix } from '../helpers/postfix.js';
import { qmqpSend } from '../helpers/qmqp.js';

const usable = await postfixUsable();
const MSG = 'From: a@local.test\nTo: zed@far.test\nSubject: tls\n\nover TLS\n';

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: 'ignore' });
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
  });
}

let certDir: string;
let far: TestNode;
let zed: Account;
let pf: PrivatePostfix;

beforeAll(async () => {
  if (!usable) return;
  certDir = await mkdtemp(path.join(os.tmpdir(), 'roost-tls-'));
  await chmod(certDir, 0o755);
  const key = path.join(certDir, 'key.pem');
  const crt = path.join(certDir, 'cert.pem');
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', crt, '-days', '2', '-subj', '/CN=relay.test.invalid']);
  await chmod(key, 0o644);
  far = await startTestNode();
  zed = await far.addUser('zed@far.test', 'pw');
  pf = await startPostfix({
    lmtpPort: far.ports.lmtp!,
    domain: 'far.test',
    main: { smtpd_tls_cert_file: crt, smtpd_tls_key_file: key, smtpd_tls_security_level: 'may', smtpd_tls_loglevel: '1' },
  });
}, 120_000);
afterAll(async () => {
  await pf?.stop();
  await far?.stop();
  if (certDir) await rm(certDir, { recursive: true, force: true });
});

async function sender(tlsVerify: boolean): Promise<TestNode> {
  return startTestNode({
    outbound: { smarthosts: [`127.0.0.1:${pf.smtpPort}`], local_domains: ['local.test'], starttls: 'required', tls_verify: tlsVerify, timeout_ms: 20_000 },
  });
}

describe.skipIf(!usable)('STARTTLS to a Postfix smarthost', () => {
  it('tls_verify = true refuses the self-signed certificate: Z, nothing relayed', { timeout: 60_000 }, async () => {
    const t = await sender(true);
    try {
      const r = await qmqpSend(t.ports.qmqp!, MSG, 'a@local.test', ['zed@far.test']);
      expect(r.code).toBe('Z');
      expect(r.text).toMatch(/TLS: .*(self.signed|certificate)/i);
      expect(await inboxMessages(far.ctx.store, zed)).toEqual([]);
    } finally {
      await t.stop();
    }
  });

  it('tls_verify = false: the session is encrypted, Postfix relays it to the other node over LMTP', { timeout: 90_000 }, async () => {
    const t = await sender(false);
    try {
      const r = await qmqpSend(t.ports.qmqp!, MSG, 'a@local.test', ['zed@far.test']);
      expect(r.code, r.text).toBe('K');
      const log = await pf.waitLog((l) => /status=sent/.test(l));
      expect(log).toMatch(/TLS connection established from/);
      const got = await inboxMessages(far.ctx.store, zed);
      expect(got.length).toBe(1);
      expect(got[0]!.toString('latin1')).toContain('over TLS\n');
    } finally {
      await t.stop();
    }
  });
});
