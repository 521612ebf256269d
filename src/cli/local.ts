/**
 * Opening the node's pieces from the CLI process, for commands that work
 * without a running node (user management, and deliver/reindex when no node
 * serves this data directory).
 */
import { openSqliteDirectory, type SqliteDirectory } from '../accounts/sqlite.js';
import type { Config } from '../config/schema.js';
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { tightenSync } from '../config/file-modes.js';
import { UsageError } from './command.js';

/** The embedded directory; `roost user …` manages only the sqlite backend (LDAP is managed in LDAP). */
export function openEmbeddedDirectory(config: Config): SqliteDirectory {
  if (config.directory.backend !== 'sqlite')
    throw new UsageError(`directory.backend is "${config.directory.backend}": manage accounts in the directory itself`);
  mkdirSync(config.paths.dataDir, { recursive: true, mode: 0o700 });
  const dir = openSqliteDirectory(config.paths.dataDir, config.paths.mailDir);
  // Password hashes: an accounts file an older version left readable is made private here too.
  tightenSync(config.paths.dataDir);
  for (const f of readdirSync(config.paths.dataDir)) {
    if (f.startsWith('accounts.sqlite')) tightenSync(path.join(config.paths.dataDir, f));
  }
  return dir;
}
