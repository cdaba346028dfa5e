/**
 * Stable error codes. Every refusal a client can see carries one of these in the
 * `code` member of an `application/problem+json` document. Codes never change
 * meaning once shipped; add new ones instead.
 */
export const ErrorCode = {
  // Request shape
  validationFailed: 'validation_failed',
  invalidJson: 'invalid_json',
  /** JSON nested deeper than the platform takes (`maxJsonDepth`), refused before it is parsed. */
  jsonTooDeep: 'json_too_deep',
  bodyTooLarge: 'body_too_large',
  /** The request line and headers are larger than the server reads (431). */
  headersTooLarge: 'headers_too_large',
  /** Not HTTP the server can parse (400), or a request that took too long to arrive (408). */
  malformedRequest: 'malformed_request',
  unsupportedMediaType: 'unsupported_media_type',
  routeNotFound: 'route_not_found',
  rateLimited: 'rate_limited',
  internal: 'internal_error',

  // Authentication (control plane)
  unauthenticated: 'unauthenticated',
  invalidToken: 'invalid_token',
  invalidCredentials: 'invalid_credentials',
  signupDisabled: 'signup_disabled',
  emailTaken: 'email_taken',
  /** An API key past its `expiresAt` (401): make a new one. */
  apiKeyExpired: 'api_key_expired',
  /** The user was disabled by an instance administrator: no sign-in, no API key (401 on a key, 403 on login). */
  userDisabled: 'user_disabled',
  /** The current password given to change it is wrong (403). */
  currentPasswordInvalid: 'current_password_invalid',

  // Authorization (control plane)
  insufficientRole: 'insufficient_role',
  instanceAdminRequired: 'instance_admin_required',
  scopeNotAllowed: 'scope_not_allowed',
  lastOwner: 'last_owner',
  /** The route takes a signed-in session: an API key cannot make keys or change a password (403). */
  sessionRequired: 'session_required',
  /** An instance administrator cannot disable their own account (409). */
  cannotDisableSelf: 'cannot_disable_self',

  // Entities
  organizationNotFound: 'organization_not_found',
  userNotFound: 'user_not_found',
  memberNotFound: 'member_not_found',
  memberExists: 'member_exists',
  regionNotFound: 'region_not_found',
  regionNameTaken: 'region_name_taken',
  regionDisabled: 'region_disabled',
  regionNotUsable: 'region_not_usable',
  organizationRegionMismatch: 'organization_region_mismatch',
  dataplaneNotFound: 'dataplane_not_found',
  dataplaneNameTaken: 'dataplane_name_taken',
  noDataplaneAvailable: 'no_dataplane_available',
  workspaceNotFound: 'workspace_not_found',
  workspaceNameTaken: 'workspace_name_taken',
  workspaceRegionImmutable: 'workspace_region_immutable',
  /**
   * The workspace was moved (or is being moved) to another region (409): it takes no new
   * deployment, trigger or write. The problem carries `movedTo` (the workspace it went to).
   */
  workspaceMoved: 'workspace_moved',
  /** No move of this workspace was started (404). */
  moveNotFound: 'move_not_found',
  /** A move to the region the workspace is in already (409). */
  moveSameRegion: 'move_same_region',
  /**
   * A move that cannot end yet (409): the new workspace lacks the old one's deployment, or
   * the old one still has active runs. The problem says which; run the move again.
   */
  moveIncomplete: 'move_incomplete',
  apiKeyNotFound: 'api_key_not_found',
  tokenNotFound: 'token_not_found',
  jobNotFound: 'job_not_found',
  jobArchived: 'job_archived',
  runNotFound: 'run_not_found',
  /** A job already has as many active runs as its manifest allows (`max_running`). */
  runLimitReached: 'run_limit_reached',
  backfillNotFound: 'backfill_not_found',
  /** A backfill's `from` is not before its `to` (422). */
  backfillRangeInvalid: 'backfill_range_invalid',
  /** A backfill's range holds more intervals of the schedule than one backfill may (422). */
  backfillTooLarge: 'backfill_too_large',
  /** A backfill of a job whose trigger has no intervals: manual, `after`, `once` (422). */
  jobNotScheduled: 'job_not_scheduled',

  // Data plane credentials and protocol
  invalidClientCredentials: 'invalid_client_credentials',
  dataplaneCredentialsRevoked: 'dataplane_credentials_revoked',
  instanceNotInitialized: 'instance_not_initialized',
  /**
   * An instance reported a public URL other than its data plane's (set by an
   * administrator, or pinned by the first registration): refused, audited, and shown in
   * the data plane's health. The problem carries `publicUrl` and `reportedUrl`.
   */
  dataplanePublicUrlMismatch: 'dataplane_public_url_mismatch',
  /** An instance id registered to another data plane: every internal call is bound to the caller's own. */
  instanceIdTaken: 'instance_id_taken',
  /** A deployment report whose id another workspace's deployment has: ids are never shared, nor what they name. */
  deploymentIdTaken: 'deployment_id_taken',

  // Scoped token checks on a data plane (one code per reason of refusal)
  tokenMissing: 'token_missing',
  tokenMalformed: 'token_malformed',
  tokenSignatureInvalid: 'token_signature_invalid',
  tokenIssuerInvalid: 'token_issuer_invalid',
  tokenAudienceInvalid: 'token_audience_invalid',
  tokenExpired: 'token_expired',
  tokenNotYetValid: 'token_not_yet_valid',
  tokenRevoked: 'token_revoked',
  tokenScopeMissing: 'token_scope_missing',
  tokenWorkspaceMismatch: 'token_workspace_mismatch',
  workspaceNotHosted: 'workspace_not_hosted',
  dataplaneNotReady: 'dataplane_not_ready',

  // Deployments (data plane)
  bundleTooLarge: 'bundle_too_large',
  bundleInvalid: 'bundle_invalid',
  bundleUnsafePath: 'bundle_unsafe_path',
  bundleLinkEscape: 'bundle_link_escape',
  bundleSpecialFile: 'bundle_special_file',
  manifestMissing: 'manifest_missing',
  manifestInvalid: 'manifest_invalid',
  deploymentNotFound: 'deployment_not_found',
  /** An upload whose bytes do not have the digest its `Digest` header announced (400): nothing stored. */
  digestMismatch: 'digest_mismatch',
  environmentBuildFailed: 'environment_build_failed',

  // Variables and secrets (data plane)
  variableNotFound: 'variable_not_found',
  variableNameReserved: 'variable_name_reserved',

  // Runs on the data plane
  outputNotFound: 'output_not_found',
  stateNotFound: 'state_not_found',
  /** A run's parameters that do not match the job's declaration (422, `problems` lists each). */
  parametersInvalid: 'parameters_invalid',
  parametersNotFound: 'parameters_not_found',

  // Interactive jobs behind the data plane's proxy
  runNotInteractive: 'run_not_interactive',
  interactiveNotRunning: 'interactive_not_running',
  interactiveOnOtherInstance: 'interactive_on_other_instance',
  interactiveUnreachable: 'interactive_unreachable',
  interactiveSessionInvalid: 'interactive_session_invalid',
  /** A launch ticket that is unknown, used, expired, for another app, or opened by another browser. */
  interactiveTicketInvalid: 'interactive_ticket_invalid',
  /** A request to an app's origin, with its session cookie, sent by a page of another origin. */
  interactiveCrossOrigin: 'interactive_cross_origin',

  // Protocol reports (control plane)
  workspaceNotOnDataplane: 'workspace_not_on_dataplane',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The `type` URI of a problem document for a code (RFC 9457). */
export function problemType(code: string): string {
  return `urn:sovereign:error:${code}`;
}

/** The body of every error answer, `application/problem+json`. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  /** Field-level findings for validation failures. */
  errors?: Array<{ path: string; message: string }>;
  [extension: string]: unknown;
}
