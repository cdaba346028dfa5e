import {
  ErrorCode,
  parseScope,
  type Scope,
  type ScopedTokenClaims,
  signingAlgorithm,
  TokenType,
} from '@sovereign/contract';
import { ForbiddenProblem, HttpProblem, UnauthorizedProblem } from '@sovereign/server-kit/http';
import { createLocalJWKSet, errors, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { Agent } from '../agent/agent.ts';

/** Who a verified scoped token speaks for, and what it may do here. */
export interface ScopedPrincipal {
  userId: string;
  workspaceId: string;
  organizationId: string;
  scopes: ReadonlySet<Scope>;
  tokenId: string;
  expiresAt: Date;
}

export class DataplaneNotReadyProblem extends HttpProblem {
  constructor(reason: string) {
    super(503, ErrorCode.dataplaneNotReady, reason);
  }
}

const refuse = (code: ErrorCode, detail: string) => new UnauthorizedProblem(code, detail);

/**
 * Checks scoped tokens locally, with no call to the control plane per request: the
 * signature against the cached JWKS (fetched again, rate-limited, for an unknown
 * `kid`), then issuer, audience (this data plane), times with bounded skew, revocation
 * (from heartbeat answers), the workspace (hosted here, asking the control plane at once
 * for one it does not know yet, and the one addressed) and the scope. Each reason for refusal has its own code.
 */
/** What the verifier asks of the agent: what it learnt from its control plane. */
export type TokenAgent = Pick<
  Agent,
  'identity' | 'isRevoked' | 'jwks' | 'learnHosts' | 'refreshJwks' | 'stillServes' | 'stoppedReason'
>;

export class TokenVerifier {
  readonly #agent: TokenAgent;
  readonly #skewSeconds: number;
  #keys: { source: unknown; get: JWTVerifyGetKey } | undefined;

  constructor(agent: TokenAgent, skewSeconds: number) {
    this.#agent = agent;
    this.#skewSeconds = skewSeconds;
  }

  #keySet(): JWTVerifyGetKey {
    const jwks = this.#agent.jwks();
    if (this.#keys?.source !== jwks) {
      this.#keys = { source: jwks, get: createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]) };
    }
    return this.#keys.get;
  }

  async verify(token: string | undefined, workspaceId: string | undefined, scope: Scope): Promise<ScopedPrincipal> {
    const identity = this.#agent.identity;
    if (this.#agent.stoppedReason !== undefined) {
      throw new DataplaneNotReadyProblem('This data plane’s credentials were revoked; it serves no requests.');
    }
    if (identity === undefined) {
      throw new DataplaneNotReadyProblem(
        'This data plane has not registered with its control plane yet; retry shortly.',
      );
    }
    if (token === undefined || token === '') {
      throw refuse(
        ErrorCode.tokenMissing,
        'Send a scoped token from the control plane: Authorization: Bearer <token>.',
      );
    }
    const claims = await this.#verifySignatureAndTimes(token, identity.issuer, identity.dataplaneId);
    if (this.#agent.isRevoked(claims.jti)) throw refuse(ErrorCode.tokenRevoked, 'This token was revoked.');
    if (workspaceId !== undefined && claims.ws !== workspaceId) {
      throw new ForbiddenProblem(ErrorCode.tokenWorkspaceMismatch, 'This token is for another workspace.');
    }
    // A workspace created since the last heartbeat is asked about at once (rate limited).
    if (!(await this.#agent.learnHosts(claims.ws))) {
      throw new ForbiddenProblem(ErrorCode.workspaceNotHosted, 'That workspace is not hosted by this data plane.');
    }
    const scopes = new Set(parseScope(claims.scope));
    if (!scopes.has(scope)) {
      throw new ForbiddenProblem(ErrorCode.tokenScopeMissing, `This needs a token with the ${scope} scope.`, {
        requiredScope: scope,
      });
    }
    return {
      userId: claims.sub,
      workspaceId: claims.ws,
      organizationId: claims.org,
      scopes,
      tokenId: claims.jti,
      expiresAt: new Date(claims.exp * 1000),
    };
  }

  /**
   * Whether a principal verified earlier may still be served: its token neither expired
   * (with the same skew) nor revoked since, and this data plane still serving. A stream
   * held open past its token's life (a log followed for hours) asks again as it goes,
   * where a request asks once.
   */
  stillValid(principal: ScopedPrincipal, now = Date.now()): boolean {
    return (
      this.#agent.stillServes(principal.tokenId) && now <= principal.expiresAt.getTime() + this.#skewSeconds * 1000
    );
  }

  async #verifySignatureAndTimes(token: string, issuer: string, audience: string): Promise<ScopedTokenClaims> {
    const attempt = () =>
      jwtVerify<ScopedTokenClaims>(token, this.#keySet(), {
        algorithms: [signingAlgorithm],
        typ: TokenType.scoped,
        issuer,
        audience,
        clockTolerance: this.#skewSeconds,
        requiredClaims: ['sub', 'ws', 'org', 'scope', 'jti', 'exp', 'iat'],
      });
    try {
      try {
        return (await attempt()).payload;
      } catch (error) {
        // A key we have not seen: the control plane may have rotated. Fetch once, retry once.
        if (error instanceof errors.JWKSNoMatchingKey && (await this.#agent.refreshJwks())) {
          return (await attempt()).payload;
        }
        throw error;
      }
    } catch (error) {
      throw mapJoseError(error);
    }
  }
}

function mapJoseError(error: unknown): HttpProblem {
  if (error instanceof errors.JWTExpired)
    return refuse(ErrorCode.tokenExpired, 'This token has expired; get a new one.');
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'iss':
        return refuse(ErrorCode.tokenIssuerInvalid, 'This token was not issued by this data plane’s control plane.');
      case 'aud':
        return refuse(ErrorCode.tokenAudienceInvalid, 'This token is for another data plane.');
      case 'nbf':
      case 'iat':
        return refuse(ErrorCode.tokenNotYetValid, 'This token is not valid yet; check the clocks.');
      default:
        return refuse(ErrorCode.tokenMalformed, `This token lacks a valid ${error.claim} claim.`);
    }
  }
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey) {
    return refuse(ErrorCode.tokenSignatureInvalid, 'The token’s signature does not verify.');
  }
  return refuse(ErrorCode.tokenMalformed, 'That is not a scoped token.');
}
