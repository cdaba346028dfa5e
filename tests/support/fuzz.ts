import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { JsonSchema, Operation } from '@sovereign/server-kit/testing';
import fc from 'fast-check';

/**
 * Property-based bad input for any route of an OpenAPI document: bodies that are near
 * what the schema takes (with members missing, extra, mistyped, out of range or hostile)
 * or anything at all; query strings built from the route's parameters and strangers;
 * and the headers a client controls. Each answer must be handled: below 500, and a
 * problem document when it is a refusal.
 */

/** Text that has broken parsers, routers, SQL and file systems before. */
const nasty = fc.constantFrom(
  '',
  ' ',
  '..',
  '../../etc/passwd',
  '..%2f..%2f',
  '%00',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff\ud800',
  '😀',
  '\u202e',
  '__proto__',
  'constructor',
  'prototype',
  "' OR '1'='1' --",
  '"; DROP TABLE users; --',
  '$1',
  '$'.concat('{7*7}'),
  '<script>alert(1)</script>',
  'null',
  'true',
  'NaN',
  '-0',
  '1e309',
  '0x10',
  '[]',
  '{}',
  '\\',
  '%',
  '%zz',
  'a'.repeat(300),
  'é'.repeat(20_000),
);

const anyText = fc.oneof(
  { weight: 3, arbitrary: fc.string() },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }) },
  { weight: 3, arbitrary: nasty },
);

const anyNumber = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.constantFrom(0, -1, 2 ** 31, 2 ** 53 + 1, -(2 ** 63), 1e308, 0.5),
);

/** Any JSON value at all, hostile text included. */
export const anyJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    anyText,
    anyNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.oneof(fc.string(), nasty), tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** Strings a pattern takes, where fast-check can read the pattern. */
function matching(pattern: string, fallback: fc.Arbitrary<string>): fc.Arbitrary<string> {
  try {
    return fc.stringMatching(new RegExp(pattern));
  } catch {
    return fallback;
  }
}

function typeOf(schema: JsonSchema): string | undefined {
  return Array.isArray(schema.type) ? schema.type[0] : schema.type;
}

/** A value near what the schema takes: right most of the time, wrong in every way some of the time. */
export function nearly(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  const wrong = depth > 3 ? fc.constant(null) : anyJson;
  if (schema.const !== undefined) return fc.oneof({ weight: 4, arbitrary: fc.constant(schema.const) }, wrong);
  if (schema.enum !== undefined) return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...schema.enum) }, wrong);
  if (schema.anyOf !== undefined) return fc.oneof(...schema.anyOf.map((s) => nearly(s, depth + 1)), wrong);
  let right: fc.Arbitrary<unknown>;
  switch (typeOf(schema)) {
    case 'string': {
      const bounded = fc.string({ minLength: schema.minLength ?? 0, maxLength: schema.maxLength ?? 40 });
      const shaped =
        schema.format === 'uuid'
          ? fc.uuid()
          : schema.format === 'date-time'
            ? fc.date({ noInvalidDate: true }).map((d) => d.toISOString())
            : schema.format === 'uri'
              ? fc.webUrl()
              : schema.pattern !== undefined
                ? matching(schema.pattern, bounded)
                : bounded;
      right = fc.oneof({ weight: 3, arbitrary: shaped }, anyText);
      break;
    }
    case 'integer':
    case 'number': {
      const min = schema.minimum ?? -1000;
      const max = schema.maximum ?? Math.max(min + 1000, 1000);
      right = fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min, max }) },
        fc.constantFrom(min - 1, max + 1),
        anyNumber,
      );
      break;
    }
    case 'boolean':
      right = fc.boolean();
      break;
    case 'array':
      right = fc.array(nearly(schema.items ?? {}, depth + 1), {
        minLength: 0,
        maxLength: Math.min((schema.maxItems ?? 4) + 1, 12),
      });
      break;
    case 'object': {
      const members = Object.entries(schema.properties ?? {});
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [name, member] of members) record[name] = nearly(member, depth + 1);
      right = fc
        .tuple(
          fc.record(record, { requiredKeys: (schema.required ?? []).filter((k) => k in record) }),
          fc.dictionary(fc.oneof(nasty, fc.string({ maxLength: 10 })), anyJson, { maxKeys: 2 }),
          fc.subarray(members.map(([name]) => name)),
        )
        .map(([value, extra, dropped]) => {
          const out: Record<string, unknown> = { ...value };
          for (const name of dropped) delete out[name];
          // Defined as own members, so `__proto__` is sent as a key, not swallowed as a prototype.
          for (const [key, v] of Object.entries(extra)) Object.defineProperty(out, key, { value: v, enumerable: true });
          return out;
        });
      break;
    }
    default:
      return anyJson;
  }
  return fc.oneof({ weight: 5, arbitrary: right }, wrong);
}

/** A request a client could send: its path, query, headers and body bytes. */
export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

const headerText = fc.stringMatching(/^[\x20-\x7e]{0,200}$/);
const contentTypes = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  fc.constantFrom(
    'application/json; charset=utf-8',
    'application/json; charset=latin1',
    'application/json; charset=utf-16le',
    'application/json;;;',
    'APPLICATION/JSON',
    'application/problem+json',
    'application/merge-patch+json',
    'application/x-www-form-urlencoded',
    'application/gzip',
    'application/octet-stream',
    'multipart/form-data; boundary=x',
    'text/plain',
    '*/*',
    '',
  ),
  headerText,
);

/** Every header a client controls, each present or not, with valid or random values. */
function headersFor(token: string | undefined): fc.Arbitrary<Record<string, string>> {
  const authorization = fc.oneof(
    { weight: 8, arbitrary: fc.constant(token === undefined ? '' : `Bearer ${token}`) },
    headerText.map((t) => `Bearer ${t}`),
    fc.constantFrom('Bearer', 'Basic Zm9vOmJhcg==', `bearer  ${token ?? ''} `, 'Bearer a.b.c', 'Bearer eyJ.eyJ.sig'),
    headerText,
  );
  return fc
    .record(
      {
        'content-type': contentTypes,
        authorization,
        accept: fc.oneof(fc.constantFrom('*/*', 'application/json', 'text/event-stream', 'text/html'), headerText),
        'accept-encoding': fc.constantFrom('gzip', 'br', 'identity', '*', 'x'),
        'content-encoding': fc.oneof(fc.constantFrom('gzip', 'br', 'deflate', 'identity'), headerText),
        'x-request-id': headerText,
        'x-forwarded-for': headerText,
        origin: headerText,
        cookie: headerText,
        range: fc.oneof(fc.constantFrom('bytes=0-1', 'bytes=-1', 'bytes=9999999999-'), headerText),
        'if-none-match': headerText,
      },
      { requiredKeys: [] },
    )
    .map((headers) => {
      const out: Record<string, string> = {};
      for (const [name, value] of Object.entries(headers)) {
        if (value !== undefined && !(name === 'authorization' && value === '')) out[name] = value;
      }
      // Without a choice, a route still gets a credential and JSON most of the time.
      if (!('authorization' in headers) && token !== undefined) out.authorization = `Bearer ${token}`;
      return out;
    });
}

/** Percent-encodes a value's UTF-8 bytes; unlike encodeURIComponent, takes lone surrogates (as U+FFFD). */
function percentEncoded(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value)) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function queryText(pairs: Array<[string, string]>, junk: string): string {
  const search = new URLSearchParams();
  for (const [name, value] of pairs) search.append(name, value);
  const text = [search.toString(), junk].filter((part) => part !== '').join('&');
  return text === '' ? '' : `?${text}`;
}

/**
 * Requests for one operation: path parameters mostly real ids (so the handler runs deep)
 * and sometimes anything, a query of its parameters and strangers, headers, and a body
 * near its schema (or anything at all, or bytes that are not JSON).
 */
export function requestsFor(op: Operation, ids: Record<string, string>, token: string | undefined) {
  // A real id, sometimes spelled otherwise: in capitals (the same id) or as a URN (refused).
  const pathValue = (name: string) => {
    const id = ids[name];
    if (id === undefined) return anyText;
    return fc.oneof(
      { weight: 4, arbitrary: fc.constant(id) },
      fc.constantFrom(id.toUpperCase(), `urn:uuid:${id}`, `URN:UUID:${id.toUpperCase()}`),
      anyText,
    );
  };
  const names = [...op.template.matchAll(/\{(\w+|\*)\}/g)].map((m) => m[1] as string);
  const path = fc.tuple(...names.map(pathValue)).map((values) => {
    let i = 0;
    return op.template.replace(/\{(\w+|\*)\}/g, (_, name: string) => {
      const value = values[i++] as string;
      return name === '*' ? value.split('/').map(percentEncoded).join('/') : percentEncoded(value);
    });
  });
  const queryValue = (schema: JsonSchema) =>
    nearly(schema).map((v) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? '')));
  const query = fc
    .tuple(
      fc.tuple(
        ...op.queryParams.map((p) => fc.option(queryValue(p.schema).map((v) => [p.name, v] as [string, string]))),
      ),
      fc.array(fc.tuple(fc.oneof(nasty, fc.string({ maxLength: 8 })), anyText), { maxLength: 2 }),
      fc.constantFrom('', '', '', '%', 'a=%zz', '&&', '=', 'a[b]=1', 'a=1&a=2', `${'x='.repeat(200)}`),
    )
    .map(([known, strangers, junk]) =>
      queryText([...known.filter((p): p is [string, string] => p !== null), ...strangers], junk),
    );
  const json = op.body === undefined ? anyJson : nearly(op.body);
  const body = fc.oneof(
    { weight: 6, arbitrary: json.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
    { weight: 1, arbitrary: anyText.map((t) => Buffer.from(t)) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
  return fc.record({ path, query, headers: headersFor(token), body }).map(
    ({ path, query, headers, body }): RawRequest => ({
      method: op.method,
      path: `${path}${query}`,
      headers,
      ...(op.method === 'GET' || body === undefined ? {} : { body }),
    }),
  );
}

export interface RawAnswer {
  status: number;
  contentType: string;
  text: string;
}

/**
 * Sends a request as written (node:http, so the path is not normalized and the headers
 * are sent as given). A stream (server-sent events) is read for a moment, then dropped.
 * A refusal may close the connection while the body is still being sent (the server
 * reads no more of it): the answer counts when it arrived whole before the reset.
 */
export function send(base: string, req: RawRequest): Promise<RawAnswer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    let answer: RawAnswer | undefined;
    let expected = -1;
    let settled = false;
    const chunks: Buffer[] = [];
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      if (answer === undefined) return reject(error ?? new Error('no answer'));
      const body = Buffer.concat(chunks);
      if (error !== undefined && body.length !== expected) {
        return reject(new Error(`answer ${answer.status} cut short (${error.message}): ${req.method} ${req.path}`));
      }
      resolve({ ...answer, text: body.toString() });
    };
    const outgoing = request(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.path,
        agent: false,
        // Always a length (0 without a body), so the body goes out with the headers.
        headers: { ...req.headers, 'content-length': req.body?.length ?? 0 },
        timeout: 10_000,
      },
      (incoming) => {
        answer = {
          status: incoming.statusCode ?? 0,
          contentType: String(incoming.headers['content-type'] ?? ''),
          text: '',
        };
        expected = Number(incoming.headers['content-length'] ?? -1);
        const cut = setTimeout(() => {
          incoming.destroy();
          finish();
        }, 2_000);
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => {
          clearTimeout(cut);
          finish();
        });
        incoming.on('error', (error) => finish(error));
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer in 10 s: ${req.method} ${req.path}`)));
    outgoing.on('error', (error) => finish(error));
    outgoing.end(req.body);
  });
}

/** A handled answer: never a 5xx; a refusal is a problem document with a code and no stack. */
export function assertHandled(answer: RawAnswer, req: RawRequest): void {
  const what = `${req.method} ${req.path} ${JSON.stringify(req.headers)} ${req.body?.toString().slice(0, 300) ?? ''}`;
  assert.ok(answer.status > 0 && answer.status < 500, `${answer.status} for ${what}: ${answer.text.slice(0, 500)}`);
  if (answer.status >= 400) {
    assert.match(answer.contentType, /^application\/problem\+json/, `${what}: ${answer.text.slice(0, 300)}`);
    const problem = JSON.parse(answer.text) as { code?: unknown; detail?: unknown; status?: unknown };
    assert.equal(typeof problem.code, 'string', what);
    assert.equal(problem.status, answer.status, what);
    assert.doesNotMatch(String(problem.detail), /\n\s+at /, `${what}: a stack trace in the answer`);
  }
}

/**
 * Path parameter values that try to climb out of their segment, as a client would
 * write them in the URL (already percent-encoded where they are): dot segments plain
 * and encoded (once, twice, overlong UTF-8), encoded slashes and backslashes, encoded
 * NUL, and values far longer than any id.
 */
export const traversals = [
  '..',
  '../..',
  '..%2f..%2f..%2fetc%2fpasswd',
  '%2e%2e',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '.%2e',
  '%2f',
  '%2F..%2F',
  '..%5c..%5cwindows',
  '%252e%252e%252f',
  '%c0%ae%c0%ae%c0%af',
  '%00',
  'a%00b',
  '..%00',
  'a'.repeat(5000),
  // Past Node's 16 KiB limit on the request head: refused before any route sees it.
  'a'.repeat(20_000),
];

/** More for a trailing wildcard, which is a path: climbing with real slashes. */
export const wildcardTraversals = [
  '../../../../etc/passwd',
  '%2e%2e/%2e%2e/%2e%2e/etc/passwd',
  'a/../../b',
  '/etc/passwd',
];

/** The operation's path with one parameter set to a raw (already encoded) value, the others to real ids. */
export function pathWith(op: Operation, name: string, raw: string, ids: Record<string, string>): string {
  return op.template.replace(/\{(\w+|\*)\}/g, (_, n: string) => {
    if (n === name) return raw;
    const id = ids[n];
    assert.ok(id !== undefined, `no id for {${n}} of ${op.template}`);
    return n === '*' ? id : encodeURIComponent(id);
  });
}
