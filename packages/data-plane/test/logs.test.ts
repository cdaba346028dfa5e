import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PatternSet } from '../src/logs/automaton.ts';
import { LineAssembler, maxLineBytes } from '../src/logs/lines.ts';
import { Masker, MaskStream, maskText, minMaskedLength, tooShortToMask } from '../src/logs/mask.ts';

/**
 * Forms of a secret as programs print them, made here with the encoders themselves (not
 * with the masker's own list), so that a form the masker misses fails a test.
 */
function printedForms(secret: string): Record<string, string> {
  const bytes = Buffer.from(secret);
  const inner = (prefix: string, url = false) =>
    Buffer.from(`${prefix}${secret}!tail`).toString(url ? 'base64url' : 'base64');
  const html = (s: string) =>
    s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
  return {
    raw: secret,
    'lower case': secret.toLowerCase(),
    'upper case': secret.toUpperCase(),
    base64: bytes.toString('base64'),
    'base64, no padding': bytes.toString('base64').replace(/=+$/, ''),
    base64url: bytes.toString('base64url'),
    'base64 inside a longer text, offset 0': inner(''),
    'base64 inside a longer text, offset 1': inner('a'),
    'base64 inside a longer text, offset 2': inner('ab'),
    'base64url inside a longer text, offset 1': inner('user:', true),
    'base64url inside a longer text, offset 2': inner('x', true),
    'base64 of the secret and a newline (echo | base64)': Buffer.from(`${secret}\n`).toString('base64'),
    'hex, lower case': bytes.toString('hex'),
    'hex, upper case': bytes.toString('hex').toUpperCase(),
    'URL-encoded (encodeURIComponent, %20)': encodeURIComponent(secret),
    'URL-encoded (a form, + for spaces)': new URLSearchParams({ token: secret }).toString(),
    'URL-encoded (every reserved character)': encodeURIComponent(secret).replace(
      /[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16)}`,
    ),
    'URL-encoded, lower-case hex': encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()),
    'JSON-escaped': JSON.stringify({ token: secret }),
    'JSON-escaped, ASCII only (Python json.dumps)': JSON.stringify({ token: secret }).replace(
      /[\u0080-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    ),
    'JSON inside JSON': JSON.stringify({ body: JSON.stringify({ token: secret }) }),
    'HTML-escaped': `<input value="${html(secret).replaceAll("'", '&#39;')}">`,
    'HTML-escaped (Python html.escape)': `<p>${html(secret).replaceAll("'", '&#x27;')}</p>`,
  };
}

/** A secret with every character an encoder treats specially: space, quotes, &, <, /, +, %, non-ASCII. */
const secret = `hunter2 "very" <secret> & 'more'/+%=ü-日本`;

describe('secret masking', () => {
  const masker = new Masker([secret, 'ab']);

  for (const [name, text] of Object.entries(printedForms(secret))) {
    it(`masks the secret printed as ${name}`, () => {
      const masked = masker.mask(`before ${text} after`);
      assert.ok(masked.includes(maskText), `not masked: ${masked}`);
      assert.ok(masked.startsWith('before ') && masked.endsWith(' after'), masked);
      const middle = text.slice(text.length / 2 - 4, text.length / 2 + 4);
      assert.ok(!masked.includes(middle), `"${middle}" left in: ${masked}`);
    });
  }

  it('masks a plain secret in every form, and leaves unrelated text as it was', () => {
    const plain = new Masker(['s3cr3t-T0ken_value']);
    for (const [name, text] of Object.entries(printedForms('s3cr3t-T0ken_value'))) {
      const masked = plain.mask(text);
      assert.ok(masked.includes(maskText), `${name}: ${masked}`);
      assert.ok(!masked.toLowerCase().includes('t0ken'), `${name}: ${masked}`);
    }
    const padded = Buffer.from('sk-live-5f7d0c2e9b1a').toString('base64');
    assert.ok(padded.endsWith('='));
    assert.equal(new Masker(['sk-live-5f7d0c2e9b1a']).mask(`base64: ${padded}`), `base64: ${maskText}`, 'padding too');
    const text = 'INFO GET /api/v1 200 c2VjcmV0 73656372 s3cr3t-t0ke %20&amp;';
    assert.equal(plain.mask(text), text);
  });

  it('masks base64 wrapped in lines of 76 (base64) and 64 (PEM) characters', () => {
    const long = 'k'.repeat(30) + secret + 'z'.repeat(40);
    const wrapping = new Masker([long]);
    for (const width of [64, 76]) {
      const lines =
        Buffer.from(long)
          .toString('base64')
          .match(new RegExp(`.{1,${width}}`, 'g')) ?? [];
      assert.ok(lines.length > 1);
      for (const line of lines.filter((l) => l.length >= 8))
        assert.ok(wrapping.mask(line).startsWith(maskText), `${width}: ${line}`);
    }
  });

  it('masks each line of a multi-line secret, and the whole of it JSON-escaped', () => {
    const pem = '-----BEGIN KEY-----\nMIIBVwIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----';
    const lines = new Masker([pem]);
    assert.equal(lines.mask('MIIBVwIBADANBgkqhkiG9w0BAQEFAASC'), maskText);
    assert.equal(lines.mask(Buffer.from('MIIBVwIBADANBgkqhkiG9w0BAQEFAASC').toString('hex')), maskText);
    assert.equal(lines.mask(JSON.stringify({ key: pem })), `{"key":"${maskText}"}`);
    assert.equal(lines.mask(Buffer.from(pem).toString('base64')), maskText);
  });

  it('leaves secrets shorter than the floor alone, and says which are', () => {
    assert.equal(minMaskedLength, 4);
    assert.ok(tooShortToMask('abc') && !tooShortToMask('abcd'));
    const short = new Masker(['ab', '1', 'abc']);
    assert.equal(short.mask('ab 1 abc abcd YWJj'), 'ab 1 abc abcd YWJj');
    assert.equal(
      new Masker(['abcd']).mask('ABCD abcd YWJjZA 61626364'),
      `${maskText} ${maskText} ${maskText} ${maskText}`,
    );
  });

  it('masks the union of overlapping or touching secrets as one', () => {
    const both = new Masker(['PASSWORD1', 'D1SECRET', 'tail-part']);
    assert.equal(both.mask('x PASSWORD1SECRET y'), `x ${maskText} y`);
    assert.equal(both.mask('x password1tail-part y'), `x ${maskText} y`);
    assert.equal(both.mask('PASSWORD1 D1SECRET'), `${maskText} ${maskText}`);
  });

  it('masks a secret split across pieces of a stream, at every place it can be split', () => {
    for (let cut = 0; cut <= secret.length; cut++) {
      const stream = masker.stream();
      const out = stream.push(`a ${secret.slice(0, cut)}`) + stream.push(`${secret.slice(cut)} b`) + stream.end();
      assert.equal(out, `a ${maskText} b`, `cut at ${cut}`);
    }
    const stream = masker.stream();
    let out = '';
    for (const ch of `one ${secret} two ${encodeURIComponent(secret)} three`) out += stream.push(ch);
    assert.equal(out + stream.end(), `one ${maskText} two ${maskText} three`);
  });

  it('gives text out as soon as no secret can begin in it, and the rest at the end', () => {
    const stream = new Masker(['s3cr3t-value']).stream();
    assert.equal(stream.push('done\n'), 'done\n');
    assert.equal(stream.push('token: s3cr'), 'token: ');
    assert.equal(stream.push('3'), '');
    assert.equal(stream.push('x'), 's3cr3x');
    assert.equal(stream.push('s3cr3t-val'), '');
    assert.equal(stream.end(), 's3cr3t-val', 'the start of a secret that never came whole');
  });

  it('finds exactly what a search for every pattern at every position finds, however the text is cut', () => {
    /** The reference: every occurrence of every pattern, ASCII case ignored, unions masked. */
    const naive = (patterns: string[], text: string) => {
      const lower = text.toLowerCase();
      const covered = new Array<boolean>(text.length).fill(false);
      for (const p of patterns) {
        for (let i = lower.indexOf(p.toLowerCase()); i >= 0; i = lower.indexOf(p.toLowerCase(), i + 1)) {
          covered.fill(true, i, i + p.length);
        }
      }
      let out = '';
      for (let i = 0; i < text.length; i++) {
        if (!covered[i]) out += text[i];
        else if (i === 0 || !covered[i - 1]) out += maskText;
      }
      return out;
    };
    const alphabet = fc.constantFrom('a', 'b', 'A', 'c', '%', 'é');
    const word = fc.array(alphabet, { minLength: 1, maxLength: 6 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(
        fc.array(word, { minLength: 1, maxLength: 6 }),
        fc.array(alphabet, { maxLength: 60 }),
        fc.array(fc.nat(60), { maxLength: 5 }),
        (patterns, chars, cuts) => {
          const text = chars.join('');
          const stream = new MaskStream(new PatternSet(patterns));
          let out = '';
          let at = 0;
          for (const cut of [...cuts].sort((x, y) => x - y)) {
            out += stream.push(text.slice(at, Math.max(at, cut)));
            at = Math.max(at, cut);
          }
          out += stream.push(text.slice(at)) + stream.end();
          assert.equal(out, naive(patterns, text));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('log lines', () => {
  it('joins a line split across writes, so a secret split across writes is masked', () => {
    const lines = new LineAssembler('stdout', new Masker(['s3cr3t-value']));
    const out = [
      ...lines.push(Buffer.from('token: s3cr')),
      ...lines.push(Buffer.from('3t-value\nnext')),
      ...lines.end(),
    ];
    assert.deepEqual(
      out.map((l) => l.text),
      [`token: ${maskText}`, 'next'],
    );
  });

  it('masks a secret across the place where an over-long line is cut, and cuts after masking', () => {
    const value = 's3cr3t-value-across-the-cut';
    const lines = new LineAssembler('stdout', new Masker([value]));
    // The secret starts 10 characters before the cut, and comes in two writes.
    const before = 'x'.repeat(maxLineBytes - 10);
    const out = [
      ...lines.push(Buffer.from(before + value.slice(0, 15))),
      ...lines.push(Buffer.from(`${value.slice(15)}${'y'.repeat(maxLineBytes)}\nnext\n`)),
      ...lines.end(),
    ];
    const text = out.map((l) => l.text).join('');
    assert.ok(!text.includes(value.slice(0, 10)) && !text.includes(value.slice(10)), 'no part of it is stored');
    assert.equal(text, `${before}${maskText}${'y'.repeat(maxLineBytes)}next`);
    assert.ok(out.every((l) => l.text.length <= maxLineBytes));
    assert.deepEqual(
      out.map((l) => l.text.length),
      [maxLineBytes, maxLineBytes - 10 + maskText.length, 'next'.length],
    );
  });

  it('never splits a UTF-8 character across chunks', () => {
    const lines = new LineAssembler('stderr');
    const bytes = Buffer.from('héllo\n');
    const out = [...lines.push(bytes.subarray(0, 2)), ...lines.push(bytes.subarray(2))];
    assert.deepEqual(
      out.map((l) => [l.stream, l.text]),
      [['stderr', 'héllo']],
    );
  });

  it('cuts a line that never ends into bounded pieces', () => {
    const lines = new LineAssembler('stdout');
    const out = lines.push(Buffer.alloc(600 * 1024, 'x'));
    assert.equal(out.length, 2);
    assert.ok(out.every((l) => l.text.length === 256 * 1024));
    assert.equal(lines.end()[0]?.text.length, 600 * 1024 - 512 * 1024);
  });

  it('stores bytes that are not text as U+FFFD, NUL included', () => {
    const lines = new LineAssembler('stdout', new Masker(['a-secret']));
    const out = [...lines.push(Buffer.from([0x61, 0x00, 0x62, 0xff, 0x0a])), ...lines.push(Buffer.from('c\u0000'))];
    out.push(...lines.end());
    assert.deepEqual(
      out.map((l) => l.text),
      ['a\uFFFDb\uFFFD', 'c\uFFFD'],
    );
  });
});
