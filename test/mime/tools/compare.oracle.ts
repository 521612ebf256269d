/**
 * Compares Roost's answers with a Dovecot run recorded by dovecot_oracle.py.
 * Prints one line per difference; the test fails if there are any.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parseMessage } from '../../../src/store/mime/parse.js';
import { renderBodyStructure } from '../../../src/store/mime/bodystructure.js';
import { binarySize, fetchBinary, fetchSection, type SectionSpec } from '../../../src/store/mime/section.js';
import { isRoostError } from '../../../src/errors.js';

type Answer = { status: string; tagged: string; response: string };

function parseSection(sec: string): SectionSpec {
  const m = /^([\d.]*?)\.?(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)?(?: \(([^)]*)\))?$/.exec(sec)!;
  const path = m[1] ? m[1].split('.').filter(Boolean).map(Number) : [];
  const kind = (m[2] ?? '') as SectionSpec['kind'];
  if (kind === 'HEADER.FIELDS' || kind === 'HEADER.FIELDS.NOT') return { path, kind, fields: m[3].split(' ') };
  return { path, kind } as SectionSpec;
}

async function mine(raw: Buffer, item: string): Promise<{ label: string; value: Buffer } | { error: string }> {
  const tree = parseMessage(raw);
  const read = async (s: number, e: number): Promise<Buffer> => raw.subarray(s, e);
  if (item === 'BODYSTRUCTURE') return { label: item, value: Buffer.from(renderBodyStructure(tree, true), 'latin1') };
  if (item === 'BODY') return { label: item, value: Buffer.from(renderBodyStructure(tree, false), 'latin1') };
  if (item === 'ENVELOPE') return { label: item, value: Buffer.from(tree.envelope, 'latin1') };
  if (item === 'RFC822.SIZE') return { label: item, value: Buffer.from(String(tree.vSize)) };
  const m = /^(BODY\.PEEK|BINARY\.PEEK|BINARY\.SIZE)\[(.*)\](?:<(\d+)\.(\d+)>)?$/.exec(item);
  if (!m) throw new Error(`item ${item}`);
  const partial = m[3] ? { offset: Number(m[3]), length: Number(m[4]) } : undefined;
  const label = `${m[1].replace('.PEEK', '')}[${m[2]}]${partial ? `<${partial.offset}>` : ''}`;
  try {
    if (m[1] === 'BODY.PEEK') return { label, value: await fetchSection(tree, parseSection(m[2]), read, partial) };
    const path = m[2] ? m[2].split('.').map(Number) : [];
    if (m[1] === 'BINARY.SIZE') return { label, value: Buffer.from(String(await binarySize(tree, path, read))) };
    return { label, value: await fetchBinary(tree, path, read, partial) };
  } catch (e) {
    if (isRoostError(e)) return { error: e.code };
    throw e;
  }
}

function theirs(resp: string, label: string): Buffer | null {
  const head = /^\* \d+ FETCH \(UID \d+ /.exec(resp);
  if (!head) return null;
  const rest = resp.slice(head[0].length);
  if (!rest.startsWith(label + ' ')) return null;
  const v = rest.slice(label.length + 1);
  const lit = /^~?\{(\d+)\}\r\n/.exec(v);
  if (lit) return Buffer.from(v.slice(lit[0].length, lit[0].length + Number(lit[1])), 'latin1');
  return Buffer.from(v.slice(0, v.length - 3), 'latin1');
}

it('matches Dovecot', async () => {
  const results = JSON.parse(readFileSync(process.env.ORACLE_JSON!, 'utf8')) as Record<string, Record<string, Answer>>;
  const dir = process.env.ORACLE_DIR!;
  const diffs: string[] = [];
  let compared = 0;
  for (const [name, items] of Object.entries(results)) {
    const raw = readFileSync(join(dir, name));
    for (const [item, ans] of Object.entries(items)) {
      if (item === 'APPEND') continue;
      compared++;
      const got = await mine(raw, item);
      // No such section: Roost says NOTFOUND, Dovecot sends an empty string (or BINARY.SIZE 0).
      if (ans.status === 'OK' && 'error' in got && got.error === 'NOTFOUND' && /(\{0\}\r\n| 0)\)\r\n$/.test(ans.response)) continue;
      if (ans.status !== 'OK') {
        const code = /\[([A-Z-]+)\]/.exec(ans.tagged)?.[1] ?? ans.status;
        const ok = 'error' in got && (got.error === code.replace('-', '') || (code === 'BYE' && false));
        if (!ok) diffs.push(`${name} ${item}: dovecot ${ans.status} ${ans.tagged.trim()} | roost ${'error' in got ? got.error : JSON.stringify(got.value.toString('latin1').slice(0, 200))}`);
        continue;
      }
      if ('error' in got) {
        diffs.push(`${name} ${item}: dovecot OK | roost error ${got.error}`);
        continue;
      }
      const t = theirs(ans.response, got.label);
      if (t === null) {
        diffs.push(`${name} ${item}: cannot read dovecot answer ${JSON.stringify(ans.response.slice(0, 200))}`);
        continue;
      }
      if (!t.equals(got.value)) {
        diffs.push(`${name} ${item}:\n   dovecot ${JSON.stringify(t.toString('latin1').slice(0, 600))}\n   roost   ${JSON.stringify(got.value.toString('latin1').slice(0, 600))}`);
      }
    }
  }
  console.log(`ORACLE compared ${compared}, differences ${diffs.length}\n` + diffs.join('\n'));
  expect(diffs).toEqual([]);
});
