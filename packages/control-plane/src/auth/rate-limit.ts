import { TooManyRequestsProblem } from '@sovereign/server-kit/http';

export interface RateLimitConfig {
  /** The period over which a budget refills whole. */
  windowSeconds: number;
  /**
   * Wrong passwords per client address, and per account (email) from one client address.
   * Never per account from anywhere: anyone could then lock anyone out.
   */
  loginPerClient: number;
  loginPerClientAndAccount: number;
  /**
   * Scoped tokens per client address and per user; client credential exchanges per
   * client address and per data plane.
   */
  tokensPerClient: number;
  /** Runs triggered (by hand or by API) per workspace: a loop gone wrong cannot fill its data plane's queue. */
  triggersPerWorkspace: number;
}

/** One budget an attempt spends from: a key and the attempts it allows per window (0: unlimited). */
export interface Budget {
  key: string;
  limit: number;
}

interface Bucket {
  tokens: number;
  at: number;
  limit: number;
}

/**
 * Budgets of attempts per key (a client address, an account, a user, a data plane),
 * each refilled continuously over the window (a token bucket), in this process's
 * memory. It bounds password guessing and token minting per caller; with several
 * replicas each keeps its own budgets, so the bound is per replica.
 */
export class RateLimiter {
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: { windowSeconds: number; now?: () => number; maxKeys?: number }) {
    this.#windowMs = Math.max(options.windowSeconds, 1) * 1000;
    this.#now = options.now ?? Date.now;
    this.#maxKeys = options.maxKeys ?? 100_000;
  }

  /**
   * Spends one attempt from each budget; or, when any is empty, spends none and throws
   * a 429 problem carrying the seconds until every budget has an attempt again.
   */
  take(budgets: Budget[]): void {
    const now = this.#now();
    const live = budgets.filter((b) => b.limit > 0).map((b) => ({ ...b, bucket: this.#bucket(b, now) }));
    let waitMs = 0;
    for (const { bucket, limit } of live) {
      if (bucket.tokens < 1) waitMs = Math.max(waitMs, ((1 - bucket.tokens) * this.#windowMs) / limit);
    }
    if (waitMs > 0) throw new TooManyRequestsProblem(Math.max(1, Math.ceil(waitMs / 1000)));
    for (const { bucket } of live) bucket.tokens -= 1;
  }

  /**
   * Gives back the attempt `take` spent from each budget: for an attempt that turned out
   * not to count (a right password), so that only what is refused wears a budget down.
   */
  refund(budgets: Budget[]): void {
    const now = this.#now();
    for (const budget of budgets) {
      if (budget.limit <= 0) continue;
      const bucket = this.#buckets.get(budget.key);
      if (bucket === undefined) continue;
      bucket.tokens = Math.min(budget.limit, this.#refilled(bucket, budget.limit, now) + 1);
      bucket.at = now;
    }
  }

  #refilled(bucket: Bucket, limit: number, now: number): number {
    return Math.min(limit, bucket.tokens + ((now - bucket.at) * limit) / this.#windowMs);
  }

  #bucket({ key, limit }: Budget, now: number): Bucket {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxKeys) this.#forget(now);
      bucket = { tokens: limit, at: now, limit };
      this.#buckets.set(key, bucket);
    }
    bucket.tokens = this.#refilled(bucket, limit, now);
    bucket.at = now;
    return bucket;
  }

  /**
   * Bounds memory: a bucket untouched for a whole window has refilled and carries no
   * information. If that is not enough, the fullest go first, down to nine tenths of the
   * bound (one sort for many new keys): a client that makes new keys by the thousand (new
   * accounts to guess, new addresses) makes nearly full buckets, and so cannot push out
   * the nearly empty one that holds its guessing back.
   */
  #forget(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (now - bucket.at >= this.#windowMs) this.#buckets.delete(key);
    }
    const target = Math.floor(this.#maxKeys * 0.9);
    if (this.#buckets.size <= target) return;
    const byFullness = [...this.#buckets].sort(
      ([, a], [, b]) => this.#refilled(b, b.limit, now) / b.limit - this.#refilled(a, a.limit, now) / a.limit,
    );
    for (const [key] of byFullness.slice(0, this.#buckets.size - target)) this.#buckets.delete(key);
  }
}
