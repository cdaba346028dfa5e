import { PatternSet } from './automaton.ts';
import { secretForms } from './forms.ts';

export { minMaskedLength, tooShortToMask } from './forms.ts';

/** What a masked secret is replaced with in stored and streamed logs. */
export const maskText = '********';

/**
 * Replaces every form of a run's secrets (see forms.ts) in its output: one pass over the
 * text for all forms of all secrets. Where forms overlap or touch, their union is masked
 * as one.
 */
export class Masker {
  readonly #patterns: PatternSet | undefined;

  constructor(secrets: Iterable<string>) {
    const forms = new Set<string>();
    for (const secret of secrets) for (const form of secretForms(secret)) forms.add(form);
    this.#patterns = forms.size === 0 ? undefined : new PatternSet(forms);
  }

  /** A masker for one stream of output, given in pieces. */
  stream(): MaskStream {
    return new MaskStream(this.#patterns);
  }

  /** A whole text, masked. */
  mask(text: string): string {
    const stream = this.stream();
    return stream.push(text) + stream.end();
  }
}

/**
 * Masks a stream given in pieces as if it came whole: a secret written across two
 * writes is masked. Text comes out as soon as no form can still begin in it; what may
 * be the beginning of a form (at most the longest form, less one character) is held
 * back until the next piece or the end.
 */
export class MaskStream {
  readonly #patterns: PatternSet | undefined;
  #state = 0;
  /** Text read but not given out yet, and where it starts in the stream. */
  #held = '';
  #heldAt = 0;
  /** Spans to mask as [start, end) pairs in stream positions: in order, apart, past what was given out. */
  #spans: number[] = [];
  /** The first span began before #heldAt: its mask text was given out already. */
  #inSpan = false;
  /** Where the last span given out ended: one that begins there is masked with it, as one. */
  #spanEnded = -1;

  constructor(patterns: PatternSet | undefined) {
    this.#patterns = patterns;
  }

  /** Reads a piece; returns the masked text that is final now. */
  push(text: string): string {
    if (this.#patterns === undefined) return text;
    const base = this.#heldAt + this.#held.length;
    const spans = this.#spans;
    this.#state = this.#patterns.scan(text, this.#state, (end, length) => {
      let start = base + end - length;
      let stop = base + end;
      // Matches end in order; one that overlaps or touches the last span joins it.
      while (spans.length > 0 && (spans[spans.length - 1] as number) >= start) {
        start = Math.min(start, spans[spans.length - 2] as number);
        stop = Math.max(stop, spans[spans.length - 1] as number);
        spans.length -= 2;
      }
      spans.push(start, stop);
    });
    this.#held += text;
    return this.#release(base + text.length - this.#patterns.depth(this.#state));
  }

  /** The rest: the stream has ended. */
  end(): string {
    if (this.#patterns === undefined) return '';
    const out = this.#release(this.#heldAt + this.#held.length);
    this.#state = 0;
    return out;
  }

  /** Gives out the held text before stream position `until`, masked. */
  #release(until: number): string {
    const spans = this.#spans;
    let out = '';
    let at = this.#heldAt;
    let done = 0; // spans (pairs) wholly given out
    while (at < until) {
      const start = spans[done * 2];
      if (start !== undefined && start <= at) {
        if (!this.#inSpan && start !== this.#spanEnded) out += maskText;
        const stop = spans[done * 2 + 1] as number;
        if (stop <= until) {
          at = stop;
          done++;
          this.#inSpan = false;
          this.#spanEnded = stop;
        } else {
          at = until;
          this.#inSpan = true;
        }
      } else {
        const next = start === undefined ? until : Math.min(start, until);
        out += this.#held.slice(at - this.#heldAt, next - this.#heldAt);
        at = next;
      }
    }
    if (done > 0) spans.splice(0, done * 2);
    this.#held = this.#held.slice(at - this.#heldAt);
    this.#heldAt = at;
    return out;
  }
}
