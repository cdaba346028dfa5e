import { type Static, Type } from 'typebox';
import { Closed, Email, Name, Timestamp, Uuid } from '../schema.ts';
import { Roles } from '../scopes.ts';

export const RoleSchema = Type.Enum(Roles);
const OrgName = Name(100);

export const Organization = Type.Object({
  organizationId: Uuid,
  name: Type.String(),
  isDefault: Type.Boolean(),
  /**
   * Its data region, chosen at creation for good (as dltHub's organizations): every
   * workspace of it is there. Null: each workspace picks its own region.
   */
  regionId: Type.Union([Uuid, Type.Null()]),
  /** The region's name, lower case as a workspace's `dataResidency`; null with no region. */
  dataResidency: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Organization = Static<typeof Organization>;

/** An organization as its member lists it: with the role this credential may act as there. */
export const MyOrganization = Type.Object({ ...Organization.properties, role: RoleSchema });
export type MyOrganization = Static<typeof MyOrganization>;

export const OrganizationList = Type.Object({ data: Type.Array(MyOrganization) });
export type OrganizationList = Static<typeof OrganizationList>;

export const OrganizationCreateRequest = Closed({
  name: OrgName,
  /** A shared region (of the instance's default organization) to keep all its data in, for good. */
  regionId: Type.Optional(Uuid),
});
export type OrganizationCreateRequest = Static<typeof OrganizationCreateRequest>;

export const OrganizationPatchRequest = Closed({ name: Type.Optional(OrgName) });
export type OrganizationPatchRequest = Static<typeof OrganizationPatchRequest>;

export const Member = Type.Object({
  userId: Uuid,
  email: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  createdAt: Timestamp,
});
export type Member = Static<typeof Member>;

export const MemberList = Type.Object({ data: Type.Array(Member) });
export type MemberList = Static<typeof MemberList>;

export const MemberAddRequest = Closed({ email: Email, role: RoleSchema });
export type MemberAddRequest = Static<typeof MemberAddRequest>;

export const MemberPatchRequest = Closed({ role: RoleSchema });
export type MemberPatchRequest = Static<typeof MemberPatchRequest>;

export const AuditEvent = Type.Object({
  auditEventId: Type.String(),
  actor: Type.Object({ type: Type.String(), id: Type.Union([Type.String(), Type.Null()]) }),
  action: Type.String(),
  target: Type.Object({ type: Type.String(), id: Type.String() }),
  requestId: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
});
export type AuditEvent = Static<typeof AuditEvent>;
