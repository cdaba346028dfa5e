import { DataPlaneClient, ScopedTokens } from '@sovereign/client';
import type { Scope } from '@sovereign/contract/scopes';
import { controlPlane } from './control-plane.ts';

/**
 * The workspace's data plane, called straight from the browser with a short-lived token
 * scoped to the workspace (R2): logs, outputs, state and variables never pass through the
 * control plane. One token cache for the whole page: tokens are kept until shortly
 * before they expire, per workspace and set of scopes, and each call asks only for the
 * scopes it needs.
 */
const tokens = new ScopedTokens(controlPlane);

export function dataPlane(workspaceId: string, scopes: Scope[]): DataPlaneClient {
  return new DataPlaneClient(tokens, workspaceId, scopes);
}

/** Forgets every token (on sign-out). */
export function forgetDataplaneTokens(): void {
  tokens.forget();
}
