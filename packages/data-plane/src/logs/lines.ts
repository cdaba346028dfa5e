import { StringDecoder } from 'node:string_decoder';

/** Longest line kept whole; a longer one is cut into pieces of this size. */
export const maxLineBytes = 256 * 1024;

export interface LogLine {
  stream: 'stdout' | 'stderr';
  at: Date;
  text: string;
}

/**
 * Assembles a stream's chunks into lines. A chunk boundary never splits a line (so a
 * secret printed across two writes is whole again before it is masked), nor a UTF-8
 * character. Bytes that are not text become U+FFFD: invalid UTF-8 by the decoder, and
 * NUL here, as PostgreSQL stores no NUL in text.
 */
export class LineAssembler {
  readonly #stream: LogLine['stream'];
  readonly #decoder = new StringDecoder('utf8');
  #partial = '';

  constructor(stream: LogLine['stream']) {
    this.#stream = stream;
  }

  push(chunk: Buffer, at = new Date()): LogLine[] {
    const text = this.#partial + this.#decoder.write(chunk).replaceAll('\u0000', '\uFFFD');
    const parts = text.split('\n');
    this.#partial = parts.pop() ?? '';
    const lines = parts.map((line) => ({ stream: this.#stream, at, text: line.replace(/\r$/, '') }));
    while (this.#partial.length > maxLineBytes) {
      lines.push({ stream: this.#stream, at, text: this.#partial.slice(0, maxLineBytes) });
      this.#partial = this.#partial.slice(maxLineBytes);
    }
    return lines;
  }

  /** The last line, if the stream ended without a newline. */
  end(at = new Date()): LogLine[] {
    const rest = this.#partial + this.#decoder.end().replaceAll('\u0000', '\uFFFD');
    this.#partial = '';
    return rest.length === 0 ? [] : [{ stream: this.#stream, at, text: rest }];
  }
}
