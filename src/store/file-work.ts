/**
 * Background file work of one account: flag renames (cur/<base>:2,FLAGS)
 * and expunge unlinks run after the commit, in chunks, so a STORE or
 * EXPUNGE over 100,000 messages answers when the journal and the index say
 * so (the index is authoritative) instead of after 100,000 renames. Pending
 * work is marked in the index (state 1 / 2), so a crash resumes it at the
 * next open.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AccountState } from './account.js';
import { findByBasename } from './account.js';
import { internFlags } from './cache.js';
import type { MailboxRow, MessageRow } from './index/db.js';
import { STATE_RENAME, STATE_UNLINK } from './index/db.js';
import { targetName } from './maildir/filename.js';
import { addQuotaDelta } from './maildir/quota.js';
import { fsyncDir } from './maildir/save.js';

/** Files handled between yields to the event loop. */
const CHUNK = 2000;

export class FileWork {
  running = false;
  private again = false;
  private done: (() => void)[] = [];

  constructor(private readonly st: AccountState) {}

  schedule(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    setImmediate(() => void this.run());
  }

  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((r) => this.done.push(r));
  }

  private async run(): Promise<void> {
    const st = this.st;
    try {
      do {
        this.again = false;
        const byMailbox = new Map<number, MessageRow[]>();
        for (const r of st.db().pending()) {
          let l = byMailbox.get(r.mailbox);
          if (!l) byMailbox.set(r.mailbox, (l = []));
          l.push(r);
        }
        for (const [mbId, list] of byMailbox) {
          const mb = st.db().mailboxById(mbId);
          if (!mb) continue;
          const dir = st.dir(mb.name);
          for (let i = 0; i < list.length; i += CHUNK) await this.chunk(mb, dir, list.slice(i, i + CHUNK));
          st.noteMtimes(mb);
        }
      } while (this.again);
    } catch (err) {
      st.core.warn('store: background file work failed', err);
    } finally {
      this.running = false;
      for (const w of this.done.splice(0)) w();
    }
  }

  private async chunk(mb: MailboxRow, dir: string, rows: MessageRow[]): Promise<void> {
    const renamed: [number, string, string][] = [];
    const unlinked: MessageRow[] = [];
    for (const r of rows) {
      if (r.state === STATE_RENAME) {
        const want = targetName({ basename: r.basename, diskName: r.disk_name }, internFlags(r.flags));
        if (want === r.disk_name) {
          renamed.push([r.uid, want, r.flags]);
          continue;
        }
        try {
          fs.renameSync(path.join(dir, r.disk_name), path.join(dir, want));
          renamed.push([r.uid, want, r.flags]);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          // Already renamed (replay) or gone (reconcile will expunge it).
          if (fs.existsSync(path.join(dir, want))) renamed.push([r.uid, want, r.flags]);
        }
      } else if (r.state === STATE_UNLINK) {
        try {
          fs.unlinkSync(path.join(dir, r.disk_name));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          // Renamed under another name meanwhile: find it, or a crash would resurrect it.
          const other = findByBasename(dir, r.basename);
          if (other) fs.rmSync(path.join(dir, other), { force: true });
        }
        unlinked.push(r);
      }
    }
    // Make the new names durable before the index forgets the old ones.
    await Promise.allSettled([fsyncDir(path.join(dir, 'cur')), fsyncDir(path.join(dir, 'new'))]);
    const db = this.st.db();
    db.tx(() => {
      for (const [uid, name, flags] of renamed) db.renamed(mb.id, uid, name, flags);
      for (const r of unlinked) db.deleteMessage(mb.id, r.uid);
    });
    if (unlinked.length > 0) {
      const bytes = unlinked.reduce((s, r) => s + r.size, 0);
      addQuotaDelta(this.st.account, -bytes, -unlinked.length);
    }
    await new Promise((r) => setImmediate(r));
  }
}
