import { DomainError } from '@novacron/domain';

// The cursor is opaque to callers: base64url of the last row's sort key.
export function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

export function decodeCursor(cursor: string): [string, string] {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(key) &&
      key.length === 2 &&
      typeof key[0] === 'string' &&
      typeof key[1] === 'string'
    ) {
      return [key[0], key[1]];
    }
  } catch {
    // Fall through: any unreadable cursor is the same error to the caller.
  }
  throw new DomainError('VALIDATION_FAILED', 'invalid list cursor', { field: 'cursor' });
}
