/**
 * Opening the node's pieces from the CLI process, for commands that work
 * without a running node (user management, and deliver/reindex when no node
 * serves this data directory).
 */
import { openSqliteDirectory, type SqliteDirectory } from '../accounts/sqlite.js';
import type { Config } from '../config/schema.js';
import { mkdirSync } from 'node:fs';
import { UsageError } from './command.js';

/** The embedded directory; `roost user …` manages only the sqlite backend (LDAP is managed in LDAP). */
export function openEmbeddedDirectory(config: Config): SqliteDirectory {
  if (config.directory.backend !== 'sqlite')
    throw new UsageError(`directory.backend is "${config.directory.backend}": manage accounts in the directory itself`);
  mkdirSync(config.paths.dataDir, { recursive: true });
  return openSqliteDirectory(config.paths.dataDir, config.paths.mailDir);
}
