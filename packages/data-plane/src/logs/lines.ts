import { StringDecoder } from 'node:string_decoder';
import type { Masker, MaskStream } from './mask.ts';

/** Longest line kept whole (in UTF-16 code units, after masking); a longer one is cut into pieces of this size. */
export const maxLineBytes = 256 * 1024;

export interface LogLine {
  stream: 'stdout' | 'stderr';
  at: Date;
  text: string;
}

/**
 * Assembles a stream's chunks into masked lines. The stream is masked as it comes, before
 * it is split or cut: a secret printed across two writes, or across the place where an
 * over-long line is cut, is masked whole. A chunk boundary never splits a line nor a
 * UTF-8 character. Bytes that are not text become U+FFFD: invalid UTF-8 by the decoder,
 * and NUL here, as PostgreSQL stores no NUL in text.
 */
export class LineAssembler {
  readonly #stream: LogLine['stream'];
  readonly #decoder = new StringDecoder('utf8');
  readonly #mask: MaskStream | undefined;
  #partial = '';

  /** Without a masker, lines are kept as they are. */
  constructor(stream: LogLine['stream'], masker?: Masker) {
    this.#stream = stream;
    this.#mask = masker?.stream();
  }

  push(chunk: Buffer, at = new Date()): LogLine[] {
    return this.#lines(this.#masked(this.#decoder.write(chunk)), at);
  }

  /** The rest, once the stream has ended: the last line, if it ended without a newline. */
  end(at = new Date()): LogLine[] {
    const lines = this.#lines(this.#masked(this.#decoder.end()) + (this.#mask?.end() ?? ''), at);
    const rest = this.#partial;
    this.#partial = '';
    if (rest.length > 0) lines.push({ stream: this.#stream, at, text: rest });
    return lines;
  }

  #masked(text: string): string {
    const clean = text.replaceAll('\u0000', '\uFFFD');
    return this.#mask === undefined ? clean : this.#mask.push(clean);
  }

  /** Complete lines, each cut into pieces of at most maxLineBytes; so is the line still open. */
  #lines(text: string, at: Date): LogLine[] {
    const parts = (this.#partial + text).split('\n');
    let partial = parts.pop() ?? '';
    const lines: LogLine[] = [];
    const add = (piece: string) => lines.push({ stream: this.#stream, at, text: piece });
    for (const part of parts) {
      let line = part.replace(/\r$/, '');
      for (; line.length > maxLineBytes; line = line.slice(maxLineBytes)) add(line.slice(0, maxLineBytes));
      add(line);
    }
    for (; partial.length > maxLineBytes; partial = partial.slice(maxLineBytes)) add(partial.slice(0, maxLineBytes));
    this.#partial = partial;
    return lines;
  }
}
