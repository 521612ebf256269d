/** Turning a control-socket answer into a result or the typed error the CLI maps to an exit code. */
import type { ControlResponse } from '../admin/control.js';
import { RoostError, type ErrorCode } from '../errors.js';
import { UsageError } from './command.js';

const KNOWN: readonly string[] = [
  'NOTFOUND', 'EXISTS', 'OVERQUOTA', 'INUSE', 'READONLY', 'TEMP', 'LIMIT', 'TOOBIG', 'BADNAME', 'NOPERM',
  'DISABLED', 'AUTHFAILED', 'NOLOGIN', 'UNAVAILABLE', 'PARSE', 'UNKNOWNCTE', 'NOTPRIMARY',
];

/** The result of an ok answer; otherwise throw (RoostError keeps its code, so TEMP still exits 75). */
export function failFromControl(r: ControlResponse): unknown {
  if (r.ok) return r.result;
  if (r.error.code === 'USAGE') throw new UsageError(r.error.message);
  if (KNOWN.includes(r.error.code)) throw new RoostError(r.error.code as ErrorCode, r.error.message);
  throw new Error(r.error.message);
}
