import type { Database } from '@sovereign/server-kit/sql';
import type { FastifyBaseLogger } from 'fastify';
import type { RateLimiter } from './auth/rate-limit.ts';
import type { ControlPlaneConfig } from './config.ts';
import type { Dispatcher } from './runs/dispatcher.ts';
import type { SigningKeys } from './signing/keys.ts';

/** What every route plugin of the control plane is given. */
export interface Deps {
  db: Database;
  config: ControlPlaneConfig;
  keys: SigningKeys;
  dispatcher: Dispatcher;
  /** Budgets of sign-in and token endpoints, per client address and per account. */
  limiter: RateLimiter;
  /** The clock, so health and expiry can be checked at a chosen time. */
  now: () => Date;
  log: FastifyBaseLogger;
}

export function iso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

export function isoOrNull(value: Date | string | null): string | null {
  return value === null ? null : iso(value);
}
