import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Streaming a large bundle allocates hundreds of megabytes of short-lived buffers. V8
 * collects them only after ~64 MiB of external memory has piled up, so resident memory
 * would grow by that much per upload. The bundle path asks for a collection every
 * `everyBytes` it has streamed instead, which keeps memory flat whatever the size.
 * Every 32 MiB, a 200 MB upload still grew a data plane on PostgreSQL by 42 to 66 MiB
 * (over the 64 MiB the deployments suite allows, once in two); every 16 MiB, by 33 to
 * 38 MiB, for about 6% of upload rate (docs/performance.md).
 */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export class MemoryReleaser {
  readonly #everyBytes: number;
  #since = 0;

  constructor(everyBytes = 16 * 1024 * 1024) {
    this.#everyBytes = everyBytes;
  }

  /** Counts streamed bytes; collects garbage each time another `everyBytes` went by. */
  streamed(bytes: number): void {
    this.#since += bytes;
    if (this.#since >= this.#everyBytes) {
      this.#since = 0;
      gc();
    }
  }
}
