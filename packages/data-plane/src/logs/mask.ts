/** What a masked secret is replaced with in stored and streamed logs. */
export const maskText = '********';

/** Shorter values are not masked: masking "a" or "1" would shred every log line. */
const minMaskLength = 4;

const toUrl = (base64: string) => base64.replaceAll('+', '-').replaceAll('/', '_');

/**
 * The forms of a secret a job may print: as is, base64 and base64url (padded or not),
 * and the base64 text it takes inside a longer encoded string at each of the three
 * byte offsets it can start at: the characters that depend on its bytes alone.
 */
export function secretForms(secret: string): string[] {
  const bytes = Buffer.from(secret);
  const whole = bytes.toString('base64');
  const forms = new Set([secret, whole, toUrl(whole).replace(/=+$/, '')]);
  for (let offset = 0; offset < 3; offset++) {
    const padded = Buffer.concat([Buffer.alloc(offset), bytes]);
    // Skip the first group when a neighbour's bytes share it, and an incomplete last group.
    const inner = padded.toString('base64').slice(offset === 0 ? 0 : 4, Math.floor(padded.length / 3) * 4);
    // Short inner forms would match unrelated base64 text too often.
    if (inner.length >= 8) {
      forms.add(inner);
      forms.add(toUrl(inner));
    }
  }
  return [...forms].filter((f) => f.length >= minMaskLength);
}

/**
 * Replaces every form of every secret in a text. Longest forms first, so a form that
 * contains another is masked whole.
 */
export class Masker {
  readonly #pattern: RegExp | undefined;

  constructor(secrets: Iterable<string>) {
    const forms = new Set<string>();
    for (const secret of secrets) {
      for (const form of secretForms(secret)) forms.add(form);
      // A multi-line secret is printed line by line: mask each of its lines too.
      for (const line of secret.split(/\r?\n/)) if (line !== secret) for (const f of secretForms(line)) forms.add(f);
    }
    const sorted = [...forms].sort((a, b) => b.length - a.length);
    this.#pattern =
      sorted.length === 0
        ? undefined
        : new RegExp(sorted.map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  }

  mask(text: string): string {
    return this.#pattern === undefined ? text : text.replace(this.#pattern, maskText);
  }
}
