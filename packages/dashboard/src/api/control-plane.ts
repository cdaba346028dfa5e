import { ControlPlaneClient } from '@sovereign/client';
import type { Session } from '@sovereign/contract/public';

/**
 * The session (kept in localStorage) and the control plane's public API on the origin
 * that served this page, through the one client (@sovereign/client). It carries names,
 * ids, statuses and times only: logs, outputs, state and variables come from the data
 * plane (data-plane.ts), never through here.
 */
const storageKey = 'sovereign.session';

function load(): Session | null {
  try {
    const saved = JSON.parse(localStorage.getItem(storageKey) ?? 'null') as Session | null;
    if (saved === null || typeof saved.accessToken !== 'string' || Date.parse(saved.expiresAt) <= Date.now()) {
      return null;
    }
    return saved;
  } catch {
    return null;
  }
}

let current: Session | null = load();
const listeners = new Set<() => void>();

export function getSession(): Session | null {
  return current;
}

export function setSession(next: Session | null): void {
  current = next;
  if (next === null) localStorage.removeItem(storageKey);
  else localStorage.setItem(storageKey, JSON.stringify(next));
  for (const listener of listeners) listener();
}

export function subscribeSession(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export const controlPlane = new ControlPlaneClient({
  url: '',
  credential: () => current?.accessToken,
  // The session ended (expired, revoked, signed out elsewhere): back to the sign-in page.
  // The refusal itself is still thrown to the page that made the call.
  onUnauthorized: (error) => {
    if (error !== undefined && current !== null) setSession(null);
    return undefined;
  },
});

export async function signIn(email: string, password: string): Promise<Session> {
  const session = await controlPlane.login(email, password);
  setSession(session);
  return session;
}

export async function signOut(): Promise<void> {
  try {
    await controlPlane.logout();
  } finally {
    setSession(null);
  }
}
