import { type Static, Type } from 'typebox';
import { Closed, Name, Timestamp, Uuid } from '../schema.ts';

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

const RegionName = Name(255);
export const RegionCreateRequest = Closed({
  name: RegionName,
  organizationId: Uuid,
  enabled: Type.Optional(Type.Boolean()),
});
export type RegionCreateRequest = Static<typeof RegionCreateRequest>;

export const RegionPatchRequest = Closed({ name: Type.Optional(RegionName), enabled: Type.Optional(Type.Boolean()) });
export type RegionPatchRequest = Static<typeof RegionPatchRequest>;

export const RegionListQuery = Closed({
  /**
   * Required by Airbyte's API; optional here: without it, the regions the caller may
   * use anywhere (the shared ones, and those of their organizations), so a user who
   * belongs to no organization yet can choose one for the organization they create.
   */
  organizationId: Type.Optional(Uuid),
});
export type RegionListQuery = Static<typeof RegionListQuery>;
