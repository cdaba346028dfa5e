import { Type } from 'typebox';

/**
 * Keyset paging of list routes: a cursor is opaque to clients; pass a page's `nextCursor`
 * as `cursor` for the next one.
 */
export const CursorParam = Type.Optional(
  Type.String({ maxLength: 400, description: 'The `nextCursor` of the previous page.' }),
);
export const NextCursor = Type.Union([Type.String(), Type.Null()], {
  description: 'Pass as `cursor` for the next page; null on the last page.',
});
