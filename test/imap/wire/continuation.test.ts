import { describe, expect, it } from 'vitest';
import { isIdleDone, parseSaslResponse } from '../../../src/imap/wire/continuation.js';

describe('continuation lines', () => {
  it('SASL responses: base64, empty, cancel, invalid', () => {
    expect(parseSaslResponse('AGpvZQBzZWNyZXQ=')).toEqual({ kind: 'data', data: Buffer.from('\0joe\0secret') });
    expect(parseSaslResponse('')).toEqual({ kind: 'data', data: Buffer.alloc(0) });
    expect(parseSaslResponse('=')).toEqual({ kind: 'data', data: Buffer.alloc(0) });
    expect(parseSaslResponse('*')).toEqual({ kind: 'cancel' });
    for (const bad of ['AGpvZQ', 'AGpv ZQ==', 'A===', '****', 'AGpvZQ=x']) {
      expect(parseSaslResponse(bad), bad).toEqual({ kind: 'invalid', text: 'Invalid base64 in SASL response' });
    }
  });

  it('IDLE DONE', () => {
    expect(isIdleDone('DONE')).toBe(true);
    expect(isIdleDone('done')).toBe(true);
    expect(isIdleDone('DONE ')).toBe(false);
    expect(isIdleDone('a NOOP')).toBe(false);
  });
});
