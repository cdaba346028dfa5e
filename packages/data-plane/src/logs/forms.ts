/**
 * The forms a secret commonly takes in a job's output, for the masker. Matching ignores
 * the case of ASCII letters, which covers the secret in lower or upper case, hex in
 * either case and %2f as well as %2F; the forms below need list only one case of those.
 */

/**
 * Secrets (and lines of a multi-line secret) shorter than this are not masked: "1", "on"
 * or "abc" occur everywhere, so masking them would shred the log and, by where the mask
 * falls, still show the value. The run's log says which secrets were left unmasked.
 */
export const minMaskedLength = 4;

/** Base64 taken from inside a longer encoding: shorter would match unrelated base64 too often. */
const minInnerBase64 = 8;

/** Widths the `base64` command (76) and PEM / `openssl base64` (64) wrap their lines at. */
const base64Wraps = [64, 76];

/** Is this secret too short to be masked? */
export function tooShortToMask(secret: string): boolean {
  return secret.length < minMaskedLength;
}

/**
 * Every form of a secret the masker looks for: the forms of the secret and, when it has
 * several lines, of each of its lines (a job prints it line by line). Forms holding a line
 * break are left out: a log line never holds one, and each line is covered on its own.
 */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>();
  const lines = secret.split(/\r\n|\r|\n/);
  for (const value of lines.length > 1 ? [secret, ...lines] : [secret]) {
    if (tooShortToMask(value)) continue;
    for (const form of encodings(value)) {
      if (form.length >= minMaskedLength && !/[\r\n]/.test(form)) forms.add(form);
    }
  }
  return [...forms];
}

function encodings(value: string): string[] {
  const bytes = Buffer.from(value);
  const b64 = base64Forms(bytes);
  return [
    value,
    // Case is ignored for ASCII letters; these cover the others ("Ü" and "ü").
    value.toLowerCase(),
    value.toUpperCase(),
    ...b64,
    // `echo "$SECRET" | base64`: the encoding of the secret and a newline.
    ...wholeBase64(Buffer.concat([bytes, Buffer.from('\n')])),
    ...wrapped(Buffer.concat([bytes, Buffer.from('\n')])),
    bytes.toString('hex'),
    ...urlEncodings(value),
    // A base64 form inside a URL: its + and / percent-encoded.
    ...b64.map((form) => percentEncode(form, unreserved, '%20')),
    ...jsonEncodings(value),
    ...htmlEncodings(value),
  ];
}

const unpadded = (base64: string) => base64.replace(/=+$/, '');
const toUrlAlphabet = (base64: string) => base64.replaceAll('+', '-').replaceAll('/', '_');

/** Padded and not: the padding is masked with the rest when it is there. */
function wholeBase64(bytes: Buffer): string[] {
  const padded = bytes.toString('base64');
  const whole = unpadded(padded);
  return [padded, toUrlAlphabet(padded), whole, toUrlAlphabet(whole)];
}

/** The lines of a base64 text wrapped at the usual widths (the last one as far as it is the secret's). */
function wrapped(bytes: Buffer): string[] {
  const whole = unpadded(bytes.toString('base64'));
  const out: string[] = [];
  for (const width of base64Wraps) {
    if (whole.length <= width) continue;
    for (let at = 0; at < whole.length; at += width) {
      const line = whole.slice(at, at + width);
      if (line.length >= minInnerBase64) out.push(line, toUrlAlphabet(line));
    }
  }
  return out;
}

/**
 * Base64 and base64url, whole (padded or not), wrapped at the usual
 * widths, and the text the secret takes inside a longer encoded string at each of the
 * three byte offsets it can start at: the characters that depend on its bytes alone.
 */
function base64Forms(bytes: Buffer): string[] {
  const out = [...wholeBase64(bytes), ...wrapped(bytes)];
  for (let offset = 0; offset < 3; offset++) {
    const padded = Buffer.concat([Buffer.alloc(offset), bytes]);
    // Skip the first group when a neighbour's bytes share it, and an incomplete last group.
    const inner = padded.toString('base64').slice(offset === 0 ? 0 : 4, Math.floor(padded.length / 3) * 4);
    if (inner.length >= minInnerBase64) out.push(inner, toUrlAlphabet(inner));
  }
  return out;
}

/** Characters never percent-encoded (RFC 3986). */
const unreserved = '-._~';

/**
 * Percent-encoding as common encoders do it: they differ in the punctuation they leave
 * alone and in a space as %20 or +. `keep`: the characters left alone besides letters and
 * digits.
 */
function percentEncode(value: string, keep: string, space: '%20' | '+'): string {
  let out = '';
  for (const ch of value) {
    const code = ch.charCodeAt(0);
    const alphanumeric = (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
    if (alphanumeric || keep.includes(ch)) out += ch;
    else if (ch === ' ') out += space;
    else out += utf8Escape(ch);
  }
  return out;
}

/** %XX for each UTF-8 byte of a character (a lone surrogate is U+FFFD, as a UTF-8 encoder writes it). */
function utf8Escape(ch: string): string {
  let out = '';
  for (const byte of Buffer.from(ch)) out += `%${byte < 16 ? '0' : ''}${byte.toString(16).toUpperCase()}`;
  return out;
}

function urlEncodings(value: string): string[] {
  if (/^[A-Za-z0-9._~-]*$/.test(value)) return [value];
  const keeps = [
    unreserved, // RFC 3986, .NET Uri.EscapeDataString, PHP rawurlencode, Go url.PathEscape
    `${unreserved}!'()*`, // JavaScript encodeURIComponent
    "-._~!'()*;,/?:@&=+$#", // JavaScript encodeURI
    '*-._', // HTML forms (URLSearchParams), Java URLEncoder
    '-._', // PHP urlencode
    `${unreserved}/`, // Python urllib.parse.quote
  ];
  return keeps.flatMap((keep) => [percentEncode(value, keep, '%20'), percentEncode(value, keep, '+')]);
}

const unicodeEscape = (ch: string) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** As inside a JSON string, the way common encoders write it, and a JSON string inside another. */
function jsonEncodings(value: string): string[] {
  if (!/["\\/<>&]|[^ -~]/.test(value)) return [value];
  const json = (text: string) => JSON.stringify(text).slice(1, -1);
  const plain = json(value);
  const ascii = (text: string) => text.replace(/[\u0080-\uffff]/g, unicodeEscape); // Python's json.dumps
  const slash = (text: string) => text.replaceAll('/', '\\/'); // PHP's json_encode
  const htmlSafe = (text: string) => text.replace(/[<>&\u2028\u2029]/g, unicodeEscape); // Go's encoding/json
  return [plain, ascii(plain), slash(plain), htmlSafe(plain), slash(htmlSafe(ascii(plain))), json(plain)];
}

/** As HTML text or attribute, with the entities common escapers choose. */
function htmlEncodings(value: string): string[] {
  if (!/[&<>"'`=/]/.test(value)) return [value];
  const base: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };
  const variants: Array<Record<string, string>> = [
    base, // text only
    { ...base, '"': '&quot;', "'": '&#39;' }, // lodash, Rails
    { ...base, '"': '&quot;', "'": '&#x27;' }, // Python html.escape
    { ...base, '"': '&#34;', "'": '&#39;' }, // Go html.EscapeString
    { ...base, '"': '&quot;', "'": '&#039;' }, // PHP htmlspecialchars
    { ...base, '"': '&quot;', "'": '&apos;' }, // XML
    { ...base, '"': '&quot;', "'": '&#x27;', '`': '&#x60;', '=': '&#x3D;' }, // Handlebars
    { ...base, '"': '&quot;', "'": '&#x27;', '/': '&#x2F;' }, // OWASP
  ];
  return variants.map((entities) => value.replace(/[&<>"'`=/]/g, (ch) => entities[ch] ?? ch));
}
