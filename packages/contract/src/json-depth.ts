/**
 * How deep JSON may nest, wherever it enters the platform: a request body on either
 * plane, a job's state file. Arrays and objects count a level each (`[]` is 1, `{"a":[]}`
 * is 2). Deeper JSON is refused before it is parsed: parsing it is slow, walking it
 * recursively overflows the stack, and PostgreSQL (PGlite's WebAssembly above all)
 * fails on a jsonb nested thousands deep. No document this platform takes needs more.
 */
export const maxJsonDepth = 64;

/**
 * A job's state nests one level less than a body: it is sent as `{"state": …}`, so any
 * state a run saved can be put back through the API as it is.
 */
export const maxStateDepth = maxJsonDepth - 1;

const quote = 0x22;
const backslash = 0x5c;
const openArray = 0x5b;
const openObject = 0x7b;
const closeArray = 0x5d;
const closeObject = 0x7d;

/**
 * Whether JSON text nests arrays and objects deeper than `max`: one linear pass over the
 * text that skips strings (and the escapes in them), stopping at the first level too
 * many. It does not judge validity, the parser does; but a parser reading the text
 * fails at its first flaw, and up to there this count is exact, so a text this passes
 * never makes the parser go deeper than `max`.
 */
export function jsonNestsDeeperThan(text: string, max: number = maxJsonDepth): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === backslash) i++;
      else if (c === quote) inString = false;
    } else if (c === quote) {
      inString = true;
    } else if (c === openArray || c === openObject) {
      depth++;
      if (depth > max) return true;
    } else if (c === closeArray || c === closeObject) {
      depth--;
      // A bracket closing nothing: the parser stops there, before anything deeper.
      if (depth < 0) return false;
    }
  }
  return false;
}
