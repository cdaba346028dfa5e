import { isIPv4, isIPv6 } from 'node:net';

/**
 * The client a rate limit counts for, from the address Fastify sees (`request.ip`).
 *
 * An IPv6 client is its /64: one home line or one cloud machine is given a whole /64
 * (2^64 addresses) and picks any of them, so a budget per IPv6 address would give a
 * password guesser as many budgets as it likes. An IPv4 address written as IPv6
 * (`::ffff:192.0.2.1`, as a dual-stack socket reports it) is that IPv4 address.
 * Anything else (not an address at all) is taken as it is.
 */
export function rateLimitClient(ip: string): string {
  const address = ip.replace(/%.*$/, '');
  if (isIPv4(address) || !isIPv6(address)) return ip;
  const groups = ipv6Groups(address);
  const [, , , , , mark, high = 0, low = 0] = groups;
  if (mark === 0xffff && groups.slice(0, 5).every((g) => g === 0)) {
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (a dotted IPv4 tail counts as two). */
function ipv6Groups(address: string): number[] {
  const [head = '', tail] = address.split('::');
  const parse = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((word) => {
          if (!word.includes('.')) return [Number.parseInt(word, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = word.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const front = parse(head);
  if (tail === undefined) return front;
  const back = parse(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}
