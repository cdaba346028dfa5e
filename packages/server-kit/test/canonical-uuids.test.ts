import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Closed, Uuid, uuidPattern } from '@sovereign/contract';
import { Type } from 'typebox';
import { uuidCanonicalizer } from '../src/http/canonical-uuids.ts';

const id = '6B191D7F-A5EF-4C9E-B767-DBC03721F839';

describe('UUIDs made lowercase after validation', () => {
  it('in members, optional members, arrays and unions with null, and nowhere else', () => {
    const schema = Closed({
      runId: Uuid,
      regionId: Type.Optional(Uuid),
      ids: Type.Array(Uuid),
      parent: Type.Union([Uuid, Type.Null()]),
      name: Type.String(),
      nested: Closed({ workspaceId: Uuid }),
    });
    const canonical = uuidCanonicalizer(schema);
    assert.ok(canonical !== undefined);
    const value = { runId: id, ids: [id, id.toLowerCase()], parent: null, name: id, nested: { workspaceId: id } };
    assert.deepEqual(canonical(value), {
      runId: id.toLowerCase(),
      ids: [id.toLowerCase(), id.toLowerCase()],
      parent: null,
      name: id,
      nested: { workspaceId: id.toLowerCase() },
    });
    assert.equal((canonical({ runId: id, parent: id, ids: [] }) as { parent: string }).parent, id.toLowerCase());
  });

  it('costs nothing where a schema declares no UUID', () => {
    assert.equal(uuidCanonicalizer(Closed({ name: Type.String(), n: Type.Integer() })), undefined);
    assert.equal(uuidCanonicalizer(undefined), undefined);
  });

  it('takes capitals and refuses the urn:uuid: form the uuid format alone would take', () => {
    const pattern = new RegExp(uuidPattern);
    assert.ok(pattern.test(id));
    assert.ok(pattern.test(id.toLowerCase()));
    assert.ok(!pattern.test(`urn:uuid:${id.toLowerCase()}`));
    assert.ok(!pattern.test(`{${id}}`));
  });
});
