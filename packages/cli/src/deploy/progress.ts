import { Transform, type TransformCallback } from 'node:stream';
import { bytes } from '../output/format.ts';

const width = 28;

/** `Uploading [#########...........]  45%  1.2 MB / 2.6 MB` */
export function progressLine(label: string, done: number, total: number): string {
  const ratio = total <= 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(ratio * width);
  const percent = `${Math.floor(ratio * 100)}%`.padStart(4);
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent}  ${bytes(done)} / ${bytes(total)}`;
}

/**
 * Passes bytes through and draws a progress bar on a terminal (stderr), redrawn in
 * place at most ten times a second. Off a terminal it draws nothing.
 */
export class ProgressBar extends Transform {
  readonly #total: number;
  readonly #label: string;
  readonly #stream: NodeJS.WriteStream;
  readonly #enabled: boolean;
  #done = 0;
  #drawnAt = 0;
  #finished = false;

  constructor(label: string, total: number, stream: NodeJS.WriteStream = process.stderr) {
    super();
    this.#label = label;
    this.#total = total;
    this.#stream = stream;
    this.#enabled = stream.isTTY === true;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#done += chunk.length;
    const now = Date.now();
    if (now - this.#drawnAt >= 100 || this.#done >= this.#total) {
      this.#drawnAt = now;
      this.#draw();
    }
    callback(null, chunk);
  }

  #draw(): void {
    if (this.#enabled) this.#stream.write(`\r${progressLine(this.#label, this.#done, this.#total)}`);
  }

  /** Ends the bar's line (after the upload, whether it worked or not). */
  /** Ends the bar's line; once (a build's output may end it before the upload's answer). */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#enabled && this.#drawnAt > 0) {
      this.#draw();
      this.#stream.write('\n');
    }
  }
}
