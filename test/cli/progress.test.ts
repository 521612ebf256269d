/**
 * Progress of long operator commands: the terminal line
 * (count, rate, ETA), the JSON lines a log gets instead, and `roost reindex`
 * / `roost import` reporting them on stderr — in this process and through a
 * running node's control socket — while stdout keeps the answer.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest, controlSocketPath } from '../../src/cli/control-client.js';
import { etaSeconds, progressJson, progressLine, startProgress } from '../../src/cli/progress.js';
import { roost } from '../helpers/cli.js';
import { makeTempDir, startTestNode } from '../helpers/node.js';

interface Line {
  progress: string;
  done: number;
  total: number | null;
  perSecond: number;
  etaSeconds: number | null;
  final: boolean;
}

const jsonLines = (stderr: string): Line[] =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{"progress"'))
    .map((l) => JSON.parse(l) as Line);

describe('progress lines', () => {
  it('a terminal line gives count, share, rate and ETA', () => {
    const s = { what: 'reindex a@example.org', done: 12_000, total: 300_000, bytes: 0, elapsedMs: 2000 };
    expect(etaSeconds(s)).toBe(48);
    expect(progressLine(s)).toBe('reindex a@example.org: 12000/300000 (4%) 6000/s ETA 0:48');
    expect(progressLine({ ...s, elapsedMs: 1000, done: 1, total: 3601 })).toBe('reindex a@example.org: 1/3601 (0%) 1/s ETA 1:00:00');
    // Unknown total: no share and no ETA; bytes give MB/s.
    expect(progressLine({ what: 'import INBOX', done: 10, total: null, bytes: 2 * 1048576, elapsedMs: 1000 })).toBe('import INBOX: 10 10/s 2.0 MB/s');
  });

  it('a JSON line carries the same figures', () => {
    const j = JSON.parse(progressJson({ what: 'verify', done: 500, total: 1000, bytes: 0, elapsedMs: 5000 }, false)) as Line;
    expect(j).toMatchObject({ progress: 'verify', done: 500, total: 1000, perSecond: 100, etaSeconds: 5, final: false });
  });

  it('without a terminal: no line before the interval, one final line at the end', () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const p = startProgress(out, 'copy', 3);
    p.add();
    p.add();
    p.add();
    expect(text).toBe('');
    p.finish();
    p.finish();
    expect(jsonLines(text)).toEqual([expect.objectContaining({ progress: 'copy', done: 3, total: 3, final: true })]);
  });

  it('on a terminal: one line redrawn with \\r and ended with a newline', () => {
    const out = Object.assign(new PassThrough(), { isTTY: true });
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const p = startProgress(out, 'import INBOX', 2);
    p.update(2);
    p.finish();
    expect(text).toMatch(/^\r.*import INBOX: 2\/2 \(100%\) \d+\/s ETA 0:00\n$/);
  });
});

describe('roost reindex and import report progress on stderr', () => {
  let dir: string;
  let cfg: string;
  let src: string;
  const N = 7;

  beforeAll(async () => {
    dir = await makeTempDir('roost-progress-');
    cfg = path.join(dir, 'roost.toml');
    await writeFile(cfg, 'data_dir = "./data"\n');
    src = path.join(dir, 'old', 'Maildir');
    for (const d of ['cur', 'new', 'tmp', '.Work/cur', '.Work/new', '.Work/tmp']) await mkdir(path.join(src, d), { recursive: true });
    for (let i = 0; i < N; i++) {
      const where = i < 4 ? 'cur' : '.Work/cur';
      await writeFile(path.join(src, where, `${1_600_000_000 + i}.M${i}P1.old:2,S`), `Subject: m${i}\n\nbody\n`);
    }
    expect((await roost(['user', 'add', 'p@example.org', '--config', cfg])).code).toBe(0);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('import: the copy and the reindex each end with a final JSON line counting every message', async () => {
    const r = await roost(['import', 'p@example.org', src, '--config', cfg]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/7 messages/);
    const lines = jsonLines(r.stderr);
    expect(lines.filter((l) => l.final).map((l) => [l.progress.split(' ')[0], l.done, l.total])).toEqual([
      ['copy', N, N],
      ['reindex', N, N],
    ]);
  });

  it('reindex through a running node: the count arrives over the control socket', async () => {
    const t = await startTestNode({}, { dataDir: path.join(dir, 'data') });
    try {
      const r = await roost(['reindex', 'p@example.org', '--config', cfg]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/7 messages/);
      const lines = jsonLines(r.stderr);
      expect(lines.at(-1)).toMatchObject({ progress: 'reindex p@example.org', done: N, total: N, final: true });
      // The node's own progress lines, before its answer: after each batch of each folder (INBOX 4, Work 3).
      const heard: unknown[] = [];
      const answer = await controlRequest(controlSocketPath(t.config), 'reindex', { address: 'p@example.org' }, { onProgress: (p) => heard.push(p) });
      expect(answer).toEqual({ ok: true, result: { mailboxes: expect.any(Number), messages: N } });
      expect(heard).toEqual([{ messages: 4 }, { messages: N }]);
    } finally {
      await t.stop({ keep: true });
    }
  });
});
