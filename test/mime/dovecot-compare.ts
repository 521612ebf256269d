/**
 * Compare Roost's FETCH answers with answers recorded from Dovecot 2.3.19 by
 * tools/dovecot_oracle.py. Shared by dovecot-oracle.test.ts (recorded
 * corpus, part of npm test) and tools/compare.oracle.ts (ad hoc runs).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMessage } from '../../src/store/mime/parse.js';
import { renderBodyStructure } from '../../src/imap/message/bodystructure.js';
import { binarySize, fetchBinary, fetchSection, type SectionSpec } from '../../src/imap/message/section.js';
import { isRoostError } from '../../src/errors.js';

/** A value, a long value by length and (a prefix of its) SHA-256, an error code, or a hang-up. */
export type DovecotAnswer = { ok: string } | { len: number; sha256: string } | { no: string } | { bye: true };
export type Recorded = Record<string, Record<string, DovecotAnswer>>;

function parseSection(sec: string): SectionSpec {
  const m = /^([\d.]*?)\.?(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)?(?: \(([^)]*)\))?$/.exec(sec);
  if (!m) throw new Error(`section ${sec}`);
  const path = m[1] ? m[1].split('.').filter(Boolean).map(Number) : [];
  const kind = m[2] ?? '';
  if (kind === 'HEADER.FIELDS' || kind === 'HEADER.FIELDS.NOT') return { path, kind, fields: m[3].split(' ') };
  return { path, kind } as SectionSpec;
}

/** Roost's answer for one FETCH item: the value's bytes, or an error code. */
export async function roostAnswer(raw: Buffer, item: string): Promise<{ value: Buffer } | { error: string }> {
  const tree = parseMessage(raw);
  const read = async (s: number, e: number): Promise<Buffer> => raw.subarray(s, e);
  const text = (s: string): { value: Buffer } => ({ value: Buffer.from(s, 'latin1') });
  if (item === 'BODYSTRUCTURE') return text(renderBodyStructure(tree, true));
  if (item === 'BODY') return text(renderBodyStructure(tree, false));
  if (item === 'ENVELOPE') return text(tree.envelope);
  if (item === 'RFC822.SIZE') return text(String(tree.vSize));
  const m = /^(BODY\.PEEK|BINARY\.PEEK|BINARY\.SIZE)\[(.*)\](?:<(\d+)\.(\d+)>)?$/.exec(item);
  if (!m) throw new Error(`item ${item}`);
  const partial = m[3] ? { offset: Number(m[3]), length: Number(m[4]) } : undefined;
  try {
    if (m[1] === 'BODY.PEEK') return { value: await fetchSection(tree, parseSection(m[2]), read, partial) };
    const path = m[2] ? m[2].split('.').map(Number) : [];
    if (m[1] === 'BINARY.SIZE') return text(String(await binarySize(tree, path, read)));
    return { value: await fetchBinary(tree, path, read, partial) };
  } catch (e) {
    if (isRoostError(e)) return { error: e.code };
    throw e;
  }
}

const show = (b: Buffer | string): string => JSON.stringify((typeof b === 'string' ? b : b.toString('latin1')).slice(0, 400));

/**
 * Every difference between Roost and the recorded answers, as lines
 * "file item: ...". A section the message lacks counts as equal when Roost
 * says NOTFOUND and Dovecot sent an empty string (BINARY.SIZE: 0): what the
 * client sees is the IMAP layer's choice.
 */
export async function differences(
  dir: string,
  recorded: Recorded,
  transform: (raw: Buffer) => Buffer = (raw) => raw,
): Promise<{ compared: number; diffs: string[] }> {
  const diffs: string[] = [];
  let compared = 0;
  for (const [name, items] of Object.entries(recorded)) {
    if ('APPEND' in items) continue;
    const raw = transform(readFileSync(join(dir, name)));
    for (const [item, ans] of Object.entries(items)) {
      compared++;
      const got = await roostAnswer(raw, item);
      const key = `${name} ${item}`;
      if ('len' in ans) {
        const h = 'error' in got ? got.error : `${got.value.length} ${createHash('sha256').update(got.value).digest('hex').slice(0, ans.sha256.length)}`;
        if (h !== `${ans.len} ${ans.sha256}`) diffs.push(`${key}: dovecot ${ans.len} bytes ${ans.sha256} | roost ${h}`);
      } else if ('ok' in ans) {
        if ('error' in got) {
          const empty = ans.ok === '' || (item.startsWith('BINARY.SIZE') && ans.ok === '0');
          if (!(got.error === 'NOTFOUND' && empty)) diffs.push(`${key}: dovecot ${show(ans.ok)} | roost ${got.error}`);
        } else if (!got.value.equals(Buffer.from(ans.ok, 'latin1'))) {
          diffs.push(`${key}:\n  dovecot ${show(ans.ok)}\n  roost   ${show(got.value)}`);
        }
      } else {
        const want = 'no' in ans ? ans.no.replace('-', '') : 'BYE';
        if (!('error' in got) || got.error !== want) diffs.push(`${key}: dovecot ${want} | roost ${'error' in got ? got.error : show(got.value)}`);
      }
    }
  }
  return { compared, diffs };
}
