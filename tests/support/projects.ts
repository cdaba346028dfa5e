import assert from 'node:assert/strict';

/** Projects packed as a client packs them: one packer, the data plane suites' own. */
export { packProject } from '../../packages/data-plane/test/support/tar-writer.ts';

/** Reads a server-sent event stream to its end: the events, in order. */
export async function readEvents(response: Response): Promise<Array<{ event: string; data: any }>> {
  const text = await response.text();
  const events: Array<{ event: string; data: any }> = [];
  for (const block of text.split('\n\n')) {
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (data !== '') events.push({ event, data: JSON.parse(data) });
  }
  return events;
}

/**
 * The `end` event of a followed log, its duration checked and then left out: a run's
 * duration is its data plane's measure (a whole number of milliseconds), not known ahead.
 */
export function endOf(events: Array<{ event: string; data: any }>): { event: string; data: any } | undefined {
  const end = events.at(-1);
  if (end?.event !== 'end') return end;
  const { durationMs, ...rest } = end.data;
  assert.ok(Number.isInteger(durationMs) && durationMs >= 0, `the end states a duration: ${JSON.stringify(end.data)}`);
  return { event: end.event, data: rest };
}
