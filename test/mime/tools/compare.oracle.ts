/** Ad hoc comparison with a fresh Dovecot run (see vitest.oracle.config.ts). */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { differences, type Recorded } from '../dovecot-compare.js';

it('matches Dovecot', async () => {
  const recorded = JSON.parse(readFileSync(process.env.ORACLE_JSON!, 'utf8')) as Recorded;
  const { compared, diffs } = await differences(process.env.ORACLE_DIR!, recorded);
  console.log(`ORACLE compared ${compared}, differences ${diffs.length}\n${diffs.join('\n')}`);
  expect(diffs).toEqual([]);
});
