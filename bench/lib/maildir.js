// Waiting for a Maildir's file names to carry a flag change: Roost renames
// in the background after STORE answers (src/store/file-work.ts), Dovecot
// before it answers, so a STORE figure that stops at the tagged OK would
// leave Roost's renames as hidden debt. Polls cur/ and new/ (bounded).
import { readdirSync } from 'node:fs';
import path from 'node:path';

/** Messages in cur/ + new/, and how many of them have `letter` in their info. */
export function countLetter(maildir, letter) {
  let n = 0;
  let total = 0;
  for (const sub of ['cur', 'new']) {
    let names = [];
    try {
      names = readdirSync(path.join(maildir, sub));
    } catch {
      continue;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      total++;
      const i = name.indexOf(':2,');
      if (i >= 0 && name.indexOf(letter, i + 3) >= 0) n++;
    }
  }
  return { n, total };
}

/** Resolve (with the ms waited) once every name (`all`) or none carries `letter`; rejects after `timeoutMs`. */
export async function waitForLetter(maildir, letter, all, timeoutMs = 300_000, everyMs = 100) {
  const t0 = performance.now();
  for (;;) {
    const { n, total } = countLetter(maildir, letter);
    if (n === (all ? total : 0)) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`file names: ${n} of ${total} with ${letter} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
