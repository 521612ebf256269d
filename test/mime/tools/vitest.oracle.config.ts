import { defineConfig } from 'vitest/config';

// Differential run against a local Dovecot (dev only, not part of npm test):
//   ORACLE_JSON=/tmp/o.json ORACLE_DIR=dir npx vitest run --config test/mime/tools/vitest.oracle.config.ts
export default defineConfig({ test: { include: ['test/mime/tools/*.oracle.ts'], testTimeout: 600_000 } });
