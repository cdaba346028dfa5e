import { ErrorCode } from '@sovereign/contract';
import { BadRequestProblem } from '@sovereign/server-kit/http';

/**
 * Keyset paging for list routes: a cursor is the sort key of the last row of a page,
 * opaque to clients (base64url of JSON), so the next page starts right after it with an
 * index range scan however deep it is, and rows added meanwhile never shift a page.
 * Its parameters' schemas (CursorParam, NextCursor) are the contract's.
 */
export function encodeCursor(key: string[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The sort key in a cursor, checked part by part; anything else is a 400, never a 500. */
export function decodeCursor(cursor: string, checks: Array<(part: string) => boolean>): string[] {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    key = undefined;
  }
  if (
    !Array.isArray(key) ||
    key.length !== checks.length ||
    !key.every((part, i) => typeof part === 'string' && checks[i]?.(part) === true)
  ) {
    throw new BadRequestProblem(ErrorCode.validationFailed, 'The cursor is not one this API gave out.');
  }
  return key as string[];
}

/** The first `limit` of `rows` (fetched with limit + 1), and the cursor after them when more follow. */
export function page<T>(rows: T[], limit: number, key: (row: T) => string[]): { rows: T[]; nextCursor: string | null } {
  const kept = rows.slice(0, limit);
  const last = kept.at(-1);
  return { rows: kept, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(key(last)) : null };
}

export const isUuid = (part: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(part);
/** A time as microseconds since the epoch: PostgreSQL's own precision, which a cursor must keep. */
export const isMicros = (part: string) => /^\d{1,17}$/.test(part);
export const isText = (part: string) => part.length <= 200;
