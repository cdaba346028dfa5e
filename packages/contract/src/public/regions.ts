import { type Static, Type } from 'typebox';
import { Closed, Timestamp, Uuid } from '../schema.ts';

/** Airbyte's public API schemas for regions (shared/reference/airbyte/CONTRACT.md). */
export const RegionResponse = Type.Object({
  regionId: Uuid,
  name: Type.String(),
  organizationId: Uuid,
  enabled: Type.Boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type RegionResponse = Static<typeof RegionResponse>;
export const Region = RegionResponse;
export type Region = RegionResponse;

export const RegionsResponse = Type.Object({ data: Type.Array(RegionResponse) });
export type RegionsResponse = Static<typeof RegionsResponse>;

const RegionName = Type.String({ minLength: 1, maxLength: 255, pattern: '\\S' });
export const RegionCreateRequest = Closed({
  name: RegionName,
  organizationId: Uuid,
  enabled: Type.Optional(Type.Boolean()),
});
export type RegionCreateRequest = Static<typeof RegionCreateRequest>;

export const RegionPatchRequest = Closed({ name: Type.Optional(RegionName), enabled: Type.Optional(Type.Boolean()) });
export type RegionPatchRequest = Static<typeof RegionPatchRequest>;

export const RegionListQuery = Closed({ organizationId: Uuid });
export type RegionListQuery = Static<typeof RegionListQuery>;
