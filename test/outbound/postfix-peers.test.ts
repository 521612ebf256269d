/**
 * Outbound clients against a real Postfix (a private instance relaying into
 * a second Roost node over LMTP):
 *  - STARTTLS (RFC 3207) to its smtpd with a self-signed certificate: with
 *    tls_verify it is refused (Z, nothing delivered); without, the session is
 *    encrypted and the mail arrives.
 *  - The cluster QMQP client to its qmqpd: the packet is accepted (K) and
 *    the message arrives with the trace prefix, byte for byte.
 *  - The SMTP client to its smtpd, which offers SMTPUTF8 and 8BITMIME: a
 *    non-ASCII recipient and an 8-bit body get both MAIL parameters, as
 *    smtpd logs the command (debug_peer_list).
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { inboxMessages } from '../helpers/maildir.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { qmqpHandOff } from '../../src/outbound/qmqp-client.js';
import { sendMail } from '../../src/outbound/smtp.js';
import { freePort, postfixUsable, startPostfix, type PrivatePostfix } from '../helpers/postfix.js';
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
let qmqpPort: number;

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
  qmqpPort = await freePort();
  pf = await startPostfix({
    services: [`127.0.0.1:${qmqpPort} inet n - n - - qmqpd`],
    lmtpPort: far.ports.lmtp!,
    domain: 'far.test',
    main: { qmqpd_authorized_clients: '127.0.0.0/8', smtpd_tls_cert_file: crt, smtpd_tls_key_file: key, smtpd_tls_security_level: 'may', smtpd_tls_loglevel: '1', smtputf8_enable: 'yes', debug_peer_list: '127.0.0.1' },
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

describe.skipIf(!usable)('outbound clients against a private Postfix', () => {
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

  it('the cluster QMQP client hands a streamed message to Postfix qmqpd: K, and it arrives byte for byte', { timeout: 90_000 }, async () => {
    const body = Buffer.from(`From: a@local.test\nSubject: qmqp\nMessage-Id: <qmqp-1@local.test>\nDate: Mon, 7 Dec 2026 06:00:00 +0000\n\n${'0123456789abcdef\n'.repeat(8192)}\nend\n`, 'latin1');
    const prefix = Buffer.from('Delivered-To: CLUSTERHOST mx-a.test zed@far.test\n', 'latin1');
    const chunks = [body.subarray(0, 1000), body.subarray(1000, 70_000), body.subarray(70_000)];
    const a = await qmqpHandOff(
      { host: '127.0.0.1', port: qmqpPort },
      { sender: 'a@local.test', size: body.length, open: () => Readable.from(chunks) },
      prefix,
      ['zed@far.test'],
      30_000,
    );
    expect(a.code, a.text).toBe('K');
    const until = Date.now() + 60_000;
    let got: Buffer[] = [];
    while (Date.now() < until) {
      got = (await inboxMessages(far.ctx.store, zed)).filter((m) => m.includes(prefix));
      if (got.length > 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(got.length).toBe(1);
    // Postfix adds its Received line on top (and Date/Message-Id when missing: the message has both); below it, our bytes unchanged.
    const text = got[0]!.toString('latin1');
    expect(text.slice(text.indexOf(prefix.toString('latin1')))).toBe(Buffer.concat([prefix, body]).toString('latin1'));
  });

  it('SMTP to smtpd: a non-ASCII recipient and an 8-bit body send MAIL FROM:<> BODY=8BITMIME SMTPUTF8 (RFC 6531 §3.4)', { timeout: 60_000 }, async () => {
    // The null sender: Postfix's bounce (far's LMTP offers no SMTPUTF8) goes nowhere.
    const body = Buffer.from('From: a@local.test\nSubject: utf8\n\ncaf\u00e9\n', 'utf8');
    const res = await sendMail(
      '127.0.0.1',
      pf.smtpPort,
      { sender: '', size: body.length, eightBit: true, open: () => Readable.from([body]) },
      ['\u7528\u6237@far.test'],
      { helo: 'roost.test', starttls: 'off', tlsVerify: false, timeoutMs: 20_000 },
    );
    expect(res.recipients[0]!.status, res.recipients[0]!.reply).toBe('accepted');
    const log = await pf.waitLog((l) => /MAIL FROM:<>/.test(l));
    expect(log).toMatch(/: MAIL FROM:<> SIZE=\d+ BODY=8BITMIME SMTPUTF8\s*$/m);
    // Written as UTF-8 on the wire (RFC 6531 §3.3), as smtpd logs it.
    expect(log).toContain(': RCPT TO:<\u7528\u6237@far.test>');
  });

  it('the QMQP client gets Z when nothing listens', { timeout: 30_000 }, async () => {
    const a = await qmqpHandOff({ host: '127.0.0.1', port: await freePort() }, { sender: '', size: 1, open: () => Readable.from([Buffer.from('x')]) }, Buffer.alloc(0), ['z@far.test'], 5000);
    expect(a.code).toBe('Z');
    expect(a.text).toMatch(/ECONNREFUSED.*\(#4\.4\.1\)$/);
  });
});
