/**
 * Watches an interactive run's traffic and calls `onIdle` once nothing has passed
 * through the proxy for `limitMs`: no request, no body bytes, no WebSocket frame, in
 * either direction. A connection held open in silence (a forgotten tab) is not use.
 * One timer, set for the moment the run would become idle, so nothing polls.
 */
export class IdleWatch {
  readonly #limitMs: number;
  readonly #onIdle: () => void;
  #last = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(limitMs: number, onIdle: () => void) {
    this.#limitMs = limitMs;
    this.#onIdle = onIdle;
    this.#arm(limitMs);
  }

  /** Traffic: the idle clock starts again. Cheap enough to call for every chunk. */
  touch(): void {
    this.#last = Date.now();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#check(), ms);
    this.#timer.unref();
  }

  #check(): void {
    if (this.#stopped) return;
    const quiet = Date.now() - this.#last;
    if (quiet >= this.#limitMs) {
      this.#stopped = true;
      this.#onIdle();
      return;
    }
    this.#arm(this.#limitMs - quiet);
  }
}
