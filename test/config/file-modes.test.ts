/**
 * data_dir is private: after a start every directory in it is
 * 0700 and every file 0600 (group and other bits removed from what an older
 * version or a looser umask left: password hashes in accounts.sqlite, the
 * journal, indexes, the TLS key, Maildirs under data_dir/mail), new files
 * (delivered mail, `roost user add`) are made private by the umask, and
 * nothing is widened.
 */
import { chmodSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MODES_MARKER, privatizeDataDir } from '../../src/config/file-modes.js';
import { roost } from '../helpers/cli.js';
import { makeTempDir, startTestNode, type TestNode } from '../helpers/node.js';
import { qmqpSend } from '../helpers/qmqp.js';
import { looseModes, modeOf } from '../helpers/modes.js';

const mode = modeOf;
const loose = (dir: string): string[] => looseModes(dir);

const umaskBefore = process.umask();
const cleanup: string[] = [];
let t: TestNode | null = null;

afterEach(async () => {
  await t?.stop({ keep: true });
  t = null;
  process.umask(umaskBefore);
});
afterAll(async () => {
  for (const d of cleanup) await rm(d, { recursive: true, force: true });
});

describe('data_dir file modes', () => {
  it('a start tightens what a loose umask left, and mail delivered afterwards is 0600 in 0700 directories', async () => {
    process.umask(0o022);
    const dataDir = await makeTempDir();
    cleanup.push(dataDir);
    // A data_dir as an older version left it with umask 022.
    t = await startTestNode({}, { dataDir });
    const alice = await t.addUser('alice@example.org', 'pw');
    expect((await qmqpSend(t.ports.qmqp!, 'Subject: one\n\nbody\n', '', ['alice@example.org'])).code).toBe('K');
    await t.stop({ keep: true });
    t = null;
    process.umask(0o022);
    const oldMail = path.join(alice.maildir, 'cur', 'old-by-another-mda');
    writeFileSync(oldMail, 'Subject: old\n\nold\n');
    for (const p of [dataDir, path.join(dataDir, 'index'), alice.maildir, path.join(alice.maildir, 'cur')]) chmodSync(p, 0o755);
    for (const f of readdirSync(dataDir)) if (f.endsWith('.sqlite')) chmodSync(path.join(dataDir, f), 0o644);
    for (const f of readdirSync(path.join(dataDir, 'index'))) chmodSync(path.join(dataDir, 'index', f), 0o644);
    rmMarker(dataDir);
    expect(loose(dataDir).length).toBeGreaterThan(4);

    t = await startTestNode({}, { dataDir });
    expect(loose(dataDir)).toEqual([]);
    expect(mode(dataDir)).toBe(0o700);
    for (const f of ['accounts.sqlite', 'journal.sqlite', 'node.json']) expect(mode(path.join(dataDir, f)), f).toBe(0o600);
    expect(mode(oldMail)).toBe(0o600);
    for (const f of readdirSync(path.join(dataDir, 'tls'))) expect(mode(path.join(dataDir, 'tls', f)), f).toBe(0o600);
    expect(statSync(path.join(dataDir, 'control.sock')).isSocket()).toBe(true);

    // New mail, a new account and its Maildir, written by the running node: private by the umask.
    await t.addUser('bob@example.org', 'pw');
    expect((await qmqpSend(t.ports.qmqp!, 'Subject: two\n\nbody\n', '', ['alice@example.org', 'bob@example.org'])).code).toBe('K');
    expect(loose(dataDir)).toEqual([]);
    const files = readdirSync(path.join(alice.maildir, 'new'));
    expect(files.length).toBe(2);
    for (const f of files) expect(mode(path.join(alice.maildir, 'new', f))).toBe(0o600);
  });

  it('nothing is widened; data_dir is walked once (marker), its top level at every start', async () => {
    const dataDir = await makeTempDir();
    cleanup.push(dataDir);
    const mail = path.join(dataDir, 'mail');
    mkdirSync(path.join(mail, 'x', 'cur'), { recursive: true });
    const narrow = path.join(mail, 'x', 'cur', 'readonly');
    writeFileSync(narrow, 'x');
    chmodSync(narrow, 0o400);
    const wide = path.join(mail, 'x', 'cur', 'wide');
    writeFileSync(wide, 'x');
    chmodSync(wide, 0o666);
    expect(await privatizeDataDir(dataDir)).toBeGreaterThan(0);
    expect(mode(narrow)).toBe(0o400);
    expect(mode(wide)).toBe(0o600);
    expect(mode(path.join(dataDir, MODES_MARKER))).toBe(0o600);
    // With the marker present only data_dir and its direct entries are looked at.
    chmodSync(wide, 0o644);
    const top = path.join(dataDir, 'journal.sqlite');
    writeFileSync(top, '');
    chmodSync(top, 0o644);
    await privatizeDataDir(dataDir);
    expect(mode(top)).toBe(0o600);
    expect(mode(wide)).toBe(0o644);
  });

  it('`roost user add` makes accounts.sqlite 0600 in a 0700 data_dir, also over a loose umask and an old file', async () => {
    process.umask(0o022);
    const dataDir = await makeTempDir();
    cleanup.push(dataDir);
    chmodSync(dataDir, 0o755);
    const cfg = path.join(dataDir, '..', `${path.basename(dataDir)}.toml`);
    cleanup.push(cfg);
    writeFileSync(cfg, `data_dir = ${JSON.stringify(dataDir)}\n`);
    const r = await roost(['user', 'add', 'carol@example.org', '--password-stdin', '--config', cfg], 'pw-carol\n');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(mode(path.join(dataDir, 'accounts.sqlite'))).toBe(0o600);
    expect(mode(dataDir)).toBe(0o700);
    // An accounts file left readable by an older version is tightened by the next command.
    chmodSync(path.join(dataDir, 'accounts.sqlite'), 0o644);
    process.umask(0o022);
    expect((await roost(['user', 'add', 'dave@example.org', '--password-stdin', '--config', cfg], 'pw-dave\n')).code).toBe(0);
    expect(mode(path.join(dataDir, 'accounts.sqlite'))).toBe(0o600);
    for (const f of readdirSync(dataDir)) expect((mode(path.join(dataDir, f)) & 0o077).toString(8), f).toBe('0');
  });
});

/** Without the marker the next start walks the mail tree again, as after an upgrade. */
function rmMarker(dataDir: string): void {
  rmSync(path.join(dataDir, MODES_MARKER), { force: true });
}
