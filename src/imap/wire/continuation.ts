/**
 * Continuation lines a client sends after a `+` from the server (read with
 * `CommandReader.expectLine()`): SASL responses during AUTHENTICATE
 * (RFC 3501 §6.2.2) and DONE ending IDLE (RFC 2177 §3).
 */
import { decodeBase64Strict } from './parser.js';

export type SaslResponse =
  | { readonly kind: 'data'; readonly data: Buffer }
  /** The client gave up: the command ends with a tagged BAD (RFC 3501 §6.2.2). */
  | { readonly kind: 'cancel' }
  | { readonly kind: 'invalid'; readonly text: string };

/** One AUTHENTICATE continuation line: base64 (empty line = empty response) or "*". */
export function parseSaslResponse(line: string): SaslResponse {
  if (line === '*') return { kind: 'cancel' };
  // RFC 4959 §3 uses "=" for an empty initial response; accept it here too.
  if (line === '' || line === '=') return { kind: 'data', data: Buffer.alloc(0) };
  const data = decodeBase64Strict(line);
  return data ? { kind: 'data', data } : { kind: 'invalid', text: 'Invalid base64 in SASL response' };
}

/** RFC 2177 §3: "DONE", case-insensitive, nothing else on the line. */
export function isIdleDone(line: string): boolean {
  return line.toUpperCase() === 'DONE';
}
