/**
 * The copy step of `roost import ADDRESS MAILDIR`: every file of the source
 * Maildir++ (root and `.Folder` directories, and whatever the old server
 * keeps beside cur/ and new/) except the old server's private state, with
 * the mtime kept (it is the INTERNALDATE). A file already in the target is
 * left alone, so a copy interrupted and run again finishes the rest.
 *
 * Message files are copied a few at a time (LIMITS.import.copyConcurrency):
 * creating a file costs a journal round trip on a busy disk, and one at a
 * time leaves the disk idle between them. With `link`, message files are
 * hard-linked instead (same filesystem; a Maildir message never changes
 * after delivery, maildir(5)), falling back to a copy across filesystems.
 */
import fs from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import { LIMITS } from '../../limits.js';

export interface CopyOptions {
  /** Names (any level) never carried: another server's index, locks, tmp/. */
  skip: RegExp;
  /** Source paths left out (folders that cannot be carried, --skip-errors). */
  skipped: ReadonlySet<string>;
  link: boolean;
  /** Called once per message file placed in cur/ or new/. */
  onMessage: () => void;
}

const exists = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'EEXIST';

export async function copyMaildir(source: string, target: string, o: CopyOptions): Promise<{ linked: number; copied: number }> {
  const counts = { linked: 0, copied: 0 };
  let link = o.link;
  const place = async (src: string, dst: string, message: boolean): Promise<void> => {
    if (message && link) {
      try {
        await fs.link(src, dst);
        counts.linked++;
        o.onMessage();
        return;
      } catch (err) {
        if (exists(err)) return o.onMessage();
        // Another filesystem: copy this one and every later one.
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        link = false;
      }
    }
    try {
      await fs.copyFile(src, dst, constants.COPYFILE_EXCL);
    } catch (err) {
      if (exists(err)) {
        if (message) o.onMessage();
        return;
      }
      throw err;
    }
    const st = await fs.stat(src);
    await fs.utimes(dst, st.atime, st.mtime);
    counts.copied++;
    if (message) o.onMessage();
  };
  // A bounded pool over a queue filled by the walk: memory stays at a few hundred names.
  const queue: [string, string, boolean][] = [];
  const high = LIMITS.import.copyConcurrency * 32;
  let failed: unknown = null;
  let walking = true;
  const idle: (() => void)[] = [];
  let room: (() => void) | null = null;
  const worker = async (): Promise<void> => {
    for (;;) {
      const job = queue.shift();
      if (queue.length < high / 2 && room) {
        room();
        room = null;
      }
      if (!job) {
        if (!walking || failed) return;
        await new Promise<void>((r) => idle.push(r));
        continue;
      }
      try {
        await place(...job);
      } catch (err) {
        failed ??= err;
        room?.();
        return;
      }
    }
  };
  const workers = Array.from({ length: LIMITS.import.copyConcurrency }, () => worker());
  const walk = async (src: string, dst: string, inMessages: boolean): Promise<void> => {
    await fs.mkdir(dst, { recursive: true, mode: 0o700 });
    for (const e of await fs.readdir(src, { withFileTypes: true })) {
      if (failed) return;
      const s = path.join(src, e.name);
      if (o.skip.test(e.name) || o.skipped.has(s)) continue;
      if (e.isDirectory()) await walk(s, path.join(dst, e.name), e.name === 'cur' || e.name === 'new');
      else if (e.isFile()) {
        queue.push([s, path.join(dst, e.name), inMessages && !e.name.startsWith('.')]);
        idle.shift()?.();
        if (queue.length >= high) await new Promise<void>((r) => (room = r));
      }
    }
  };
  try {
    await walk(source, target, false);
  } finally {
    walking = false;
    // Every idle worker wakes to see the walk is over.
    for (const w of idle.splice(0)) w();
    await Promise.all(workers);
  }
  if (failed) throw failed;
  return counts;
}
