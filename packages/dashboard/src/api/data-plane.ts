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

/**
 * A page served over plain http already sends its session in clear, and one served over
 * https cannot call plain http at all (the browser blocks mixed content): refusing a
 * plain-http data plane would protect nothing here, so the page's own scheme decides.
 */
const allowInsecureHttp = window.location.protocol === 'http:';

export function dataPlane(workspaceId: string, scopes: Scope[]): DataPlaneClient {
  return new DataPlaneClient(tokens, workspaceId, scopes, { allowInsecureHttp });
}

/** Forgets every token (on sign-out). */
export function forgetDataplaneTokens(): void {
  tokens.forget();
}
