/**
 * Progress of a long operator command (import, reindex,
 * verify). On a terminal one line is redrawn in place (count, rate, ETA);
 * otherwise — a pipe, a log file, cron — a JSON line every
 * LIMITS.progress.jsonEveryMs, and always one at the end, so a log shows
 * where a stopped run was. Progress goes to stderr: stdout keeps the
 * command's answer (import's JSON summary) parseable.
 */
import type { Writable } from 'node:stream';
import { LIMITS } from '../limits.js';

export interface ProgressState {
  /** What is counted, e.g. "import INBOX" or "reindex alice@example.org". */
  what: string;
  done: number;
  /** The count when known (files in a Maildir), else null. */
  total: number | null;
  bytes: number;
  elapsedMs: number;
}

const rate = (s: ProgressState): number => (s.elapsedMs > 0 ? (s.done * 1000) / s.elapsedMs : 0);

/** Seconds left at the rate so far, or null when unknown (no total, nothing done yet). */
export function etaSeconds(s: ProgressState): number | null {
  const r = rate(s);
  if (s.total === null || r <= 0) return null;
  return Math.max(0, Math.round((s.total - s.done) / r));
}

function clock(sec: number): string {
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const two = (n: number): string => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(sec % 60)}` : `${m}:${two(sec % 60)}`;
}

/** The terminal line: `import INBOX: 12000/300000 (4%) 5100/s ETA 0:56`. */
export function progressLine(s: ProgressState): string {
  const count = s.total === null ? `${s.done}` : `${s.done}/${s.total} (${s.total > 0 ? Math.floor((s.done * 100) / s.total) : 100}%)`;
  const mb = s.bytes > 0 && s.elapsedMs > 0 ? ` ${((s.bytes / 1048576) * (1000 / s.elapsedMs)).toFixed(1)} MB/s` : '';
  const eta = etaSeconds(s);
  return `${s.what}: ${count} ${Math.round(rate(s))}/s${mb}${eta === null ? '' : ` ETA ${clock(eta)}`}`;
}

/** The JSON line for logs (one object per line). */
export function progressJson(s: ProgressState, final: boolean): string {
  return JSON.stringify({
    progress: s.what,
    done: s.done,
    total: s.total,
    bytes: s.bytes,
    seconds: Math.round(s.elapsedMs / 100) / 10,
    perSecond: Math.round(rate(s)),
    etaSeconds: etaSeconds(s),
    final,
  });
}

export interface Progress {
  /** Set the count reached (and bytes, when counted). Cheap: draws at most every few hundred ms. */
  update(done: number, bytes?: number): void;
  /** Count one more (and its bytes). */
  add(n?: number, bytes?: number): void;
  /** Known only later (a live server's folder sizes). */
  setTotal(total: number | null): void;
  /** The last line (TTY: ends the redrawn line; otherwise the final JSON line). */
  finish(): void;
}

export function startProgress(out: Writable & { isTTY?: boolean }, what: string, total: number | null = null): Progress {
  const tty = out.isTTY === true;
  const started = performance.now();
  const s: ProgressState = { what, done: 0, total, bytes: 0, elapsedMs: 0 };
  let lastDraw = started;
  let width = 0;
  const draw = (final: boolean): void => {
    s.elapsedMs = performance.now() - started;
    if (tty) {
      const line = progressLine(s);
      // Pad over a longer previous line; \r returns to its start (no cursor control needed).
      out.write(`\r${line.padEnd(width)}${final ? '\n' : ''}`);
      width = line.length;
    } else out.write(`${progressJson(s, final)}\n`);
  };
  const every = tty ? LIMITS.progress.ttyEveryMs : LIMITS.progress.jsonEveryMs;
  let finished = false;
  const p: Progress = {
    update(done, bytes) {
      s.done = done;
      if (bytes !== undefined) s.bytes = bytes;
      const now = performance.now();
      if (!finished && now - lastDraw >= every) {
        lastDraw = now;
        draw(false);
      }
    },
    add(n = 1, bytes = 0) {
      p.update(s.done + n, s.bytes + bytes);
    },
    setTotal(t) {
      s.total = t;
    },
    finish() {
      if (finished) return;
      finished = true;
      draw(true);
    },
  };
  return p;
}
