/**
 * The qmail-ldap schema files in contrib/ldap load into a real slapd: the
 * cn=config LDIF through the test server, the slapd.conf form through slaptest.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_DN, REPO, ROOT_PW, Slapd, userLdif, PEOPLE } from '../helpers/slapd.js';

const run = promisify(execFile);

describe('qmail-ldap schema', () => {
  let slapd: Slapd;
  beforeAll(async () => {
    slapd = await Slapd.create();
  });
  afterAll(async () => {
    await slapd?.destroy();
  });

  it('accepts a qmailUser entry with every attribute and reads it back', async () => {
    await slapd.ldapadd(
      userLdif('opi', {
        mail: 'opi@example.org',
        mailAlternateAddress: ['o@example.org', 'opi2@example.org'],
        uid: 'opi',
        userPassword: '{SSHA}xxxx',
        mailMessageStore: 'opi/Maildir/',
        homeDirectory: '/home/opi',
        mailHost: 'mx1.example.org',
        mailForwardingAddress: 'x@example.net',
        deliveryProgramPath: '/usr/bin/true',
        qmailDotMode: 'ldaponly',
        deliveryMode: 'noforward',
        mailReplyText: 'away',
        accountStatus: 'active',
        qmailAccountPurge: '1700000000',
        mailQuotaSize: '1000000',
        mailQuotaCount: '1000',
        mailSizeMax: '500000',
        qmailUID: '1000',
        qmailGID: '1000',
      }),
    );
    const { stdout } = await run('/usr/bin/ldapsearch', ['-x', '-LLL', '-H', slapd.url, '-b', PEOPLE, '(mailAlternateAddress=O@EXAMPLE.ORG)', 'mailQuotaSize', 'mailSizeMax']);
    expect(stdout).toContain('dn: cn=opi,ou=people,dc=example,dc=org');
    expect(stdout).toContain('mailQuotaSize: 1000000');
    expect(stdout).toContain('mailSizeMax: 500000');
  });

  it('refuses a non-integer mailQuotaSize (INTEGER syntax)', async () => {
    await expect(slapd.ldapadd(userLdif('bad', { mail: 'bad@example.org', mailQuotaSize: 'lots' }))).rejects.toThrow();
  });

  it('the cn=config LDIF can be added to a running server with ldapadd', async () => {
    const bare = await Slapd.create({ qmailSchema: false });
    try {
      const entry = userLdif('late', { mail: 'late@example.org', mailMessageStore: 'late/', accountStatus: 'active' });
      await expect(bare.ldapadd(entry)).rejects.toThrow();
      await run('/usr/bin/ldapadd', ['-x', '-H', bare.url, '-D', CONFIG_DN, '-w', ROOT_PW, '-f', `${REPO}/contrib/ldap/qmail.ldif`]);
      await bare.ldapadd(entry);
      const { stdout } = await run('/usr/bin/ldapsearch', ['-x', '-LLL', '-H', bare.url, '-b', PEOPLE, '(accountStatus=ACTIVE)', 'mail']);
      expect(stdout).toContain('mail: late@example.org');
    } finally {
      await bare.destroy();
    }
  });

  it('the slapd.conf form passes slaptest', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'roost-slaptest-'));
    try {
      const conf = path.join(dir, 'slapd.conf');
      writeFileSync(
        conf,
        ['core', 'cosine', 'nis', 'inetorgperson'].map((s) => `include /etc/ldap/schema/${s}.schema`).join('\n') +
          `\ninclude ${REPO}/contrib/ldap/qmail.schema\n`,
      );
      const { stderr } = await run('/usr/sbin/slaptest', ['-u', '-f', conf]);
      expect(stderr).toMatch(/config file testing succeeded/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
