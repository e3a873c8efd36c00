import { describe, expect, it } from 'vitest';
import { CloseCode, closeCodeName, endsSession, isRetryableClose } from './close-codes.js';
import { ProtocolErrorCodes } from './errors.js';

type Next = 'resume' | 'fresh-session' | 'final';

function next(code: number): Next {
  if (!isRetryableClose(code)) return 'final';
  return endsSession(code) ? 'fresh-session' : 'resume';
}

describe('every named close code', () => {
  const expected: [keyof typeof CloseCode, number, Next][] = [
    ['NORMAL', 1000, 'final'],
    ['GOING_AWAY', 1001, 'resume'],
    ['PROTOCOL_ERROR', 1002, 'final'],
    ['UNSUPPORTED_DATA', 1003, 'final'],
    ['ABNORMAL', 1006, 'resume'],
    ['INVALID_PAYLOAD', 1007, 'final'],
    ['POLICY_VIOLATION', 1008, 'final'],
    ['MESSAGE_TOO_BIG', 1009, 'final'],
    ['INTERNAL_ERROR', 1011, 'resume'],
    ['SERVICE_RESTART', 1012, 'resume'],
    ['TRY_AGAIN_LATER', 1013, 'resume'],
    ['SERVER_SHUTDOWN', 4000, 'resume'],
    ['PROBE_TIMEOUT', 4001, 'resume'],
    ['HANDSHAKE_TIMEOUT', 4002, 'resume'],
    ['CONNECT_TIMEOUT', 4003, 'resume'],
    ['RESYNC', 4004, 'resume'],
    ['SESSION_MOVED', 4005, 'resume'],
    ['SESSION_UNKNOWN', 4010, 'fresh-session'],
    ['SESSION_EXPIRED', 4011, 'fresh-session'],
    ['SERVER_RESTARTED', 4012, 'fresh-session'],
    ['TOKEN_INVALID', 4013, 'fresh-session'],
    ['SESSION_ENDED', 4014, 'fresh-session'],
    ['BUFFER_OVERFLOW', 4020, 'fresh-session'],
    ['SESSION_CLOSED', 4500, 'final'],
    ['UNSUPPORTED_VERSION', 4501, 'final'],
    ['SESSION_TAKEN_OVER', 4502, 'final'],
    ['UNAUTHORIZED', 4503, 'final'],
    ['FORBIDDEN_ORIGIN', 4504, 'final'],
  ];

  it('the table lists every code exactly once', () => {
    expect(expected.map(([name]) => name).sort()).toEqual(Object.keys(CloseCode).sort());
    expect(new Set(Object.values(CloseCode)).size).toBe(Object.keys(CloseCode).length);
  });

  it.each(expected)('%s is %i: %s', (name, code, then) => {
    expect(CloseCode[name]).toBe(code);
    expect(next(code)).toBe(then);
    expect(closeCodeName(code)).toBe(name);
  });
});

describe('ranges', () => {
  const range = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => from + i);

  it('4000–4009: retry and resume', () => {
    for (const code of range(4000, 4009)) expect([code, next(code)]).toEqual([code, 'resume']);
  });

  it('4010–4499: the session is gone; retry with a fresh session', () => {
    for (const code of range(4010, 4499)) {
      expect([code, next(code)]).toEqual([code, 'fresh-session']);
    }
  });

  it('4500–4999: final', () => {
    for (const code of range(4500, 4999)) expect([code, next(code)]).toEqual([code, 'final']);
  });

  it('final standard codes: 1000, 1002, 1003, 1007, 1008, 1009, 1010', () => {
    for (const code of range(1000, 1015)) {
      const final = [1000, 1002, 1003, 1007, 1008, 1009, 1010].includes(code);
      expect([code, next(code)]).toEqual([code, final ? 'final' : 'resume']);
    }
  });

  it('any other code is retryable and resumes (library and application codes 3000–3999 too)', () => {
    for (const code of [1014, 1015, 2000, 3000, 3999, 5000]) {
      expect([code, next(code)]).toEqual([code, 'resume']);
    }
  });

  it('endsSession is false outside 4010–4499', () => {
    for (const code of [1000, 1001, 1006, 4000, 4009, 4500, 4999]) {
      expect([code, endsSession(code)]).toEqual([code, false]);
    }
  });
});

describe('closeCodeName', () => {
  it('names known codes and says UNKNOWN otherwise', () => {
    expect(closeCodeName(4001)).toBe('PROBE_TIMEOUT');
    expect(closeCodeName(1000)).toBe('NORMAL');
    expect(closeCodeName(4015)).toBe('UNKNOWN');
    expect(closeCodeName(1005)).toBe('UNKNOWN');
    expect(closeCodeName(0)).toBe('UNKNOWN');
  });
});

describe('protocol errors', () => {
  it('close with a final code, so a client never resends the bytes that broke the protocol', () => {
    for (const [code, closeCode] of Object.entries(ProtocolErrorCodes)) {
      if (code === 'sequence-gap') continue;
      expect([code, isRetryableClose(closeCode)]).toEqual([code, false]);
      expect([code, endsSession(closeCode)]).toEqual([code, false]);
    }
  });

  it('a sequence gap is retryable and keeps the session: a resume replays what is missing', () => {
    const closeCode = ProtocolErrorCodes['sequence-gap'];
    expect(closeCode).toBe(CloseCode.RESYNC);
    expect(isRetryableClose(closeCode)).toBe(true);
    expect(endsSession(closeCode)).toBe(false);
  });
});
