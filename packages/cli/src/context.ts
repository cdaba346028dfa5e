import {
  ApiError,
  ControlPlaneClient,
  DataPlaneClient,
  InsecureHttpError,
  inClear,
  ScopedTokens,
} from '@sovereign/client';
import type { Scope, Workspace } from '@sovereign/contract';
import { configDir, defaultApiUrl, defaultProfile, type Profile, ProfileStore } from './config/profiles.ts';
import { CliError, NotSignedInError, NoWorkspaceError } from './errors.ts';
import { Output } from './output/output.ts';
import { findWorkspace } from './resolve.ts';

/** The options every command takes (set before or after the command name). */
export interface GlobalOptions {
  json?: boolean;
  debug?: boolean;
  color?: boolean;
  profile?: string;
  api?: string;
  workspace?: string;
  insecureHttp?: boolean;
}

/**
 * What a command runs with: its output, its profile, and clients for the control
 * plane and the workspace's data plane, built on demand.
 */
export class Context {
  readonly output: Output;
  readonly store: ProfileStore;
  readonly profileName: string;
  readonly options: GlobalOptions;
  readonly env: NodeJS.ProcessEnv;
  #profile: Profile | undefined;
  #cp: ControlPlaneClient | undefined;
  #tokens: ScopedTokens | undefined;

  constructor(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env) {
    this.options = options;
    this.env = env;
    this.output = new Output({
      json: options.json === true,
      debug: options.debug === true,
      color: options.color !== false,
      env,
    });
    this.store = new ProfileStore(configDir(env));
    this.profileName = options.profile || env.SOV_PROFILE || defaultProfile;
  }

  async profile(): Promise<Profile> {
    this.#profile ??= await this.store.get(this.profileName);
    return this.#profile;
  }

  async saveProfile(change: Partial<Record<keyof Profile, string | undefined>>): Promise<Profile> {
    this.#profile = await this.store.update(this.profileName, change);
    return this.#profile;
  }

  /**
   * Whether credentials may go over plain http to another machine: --insecure-http or
   * SOV_ALLOW_INSECURE_HTTP=1, asked for each time (never saved in a profile).
   */
  get insecureHttpAllowed(): boolean {
    const env = this.env.SOV_ALLOW_INSECURE_HTTP;
    return this.options.insecureHttp === true || env === '1' || env === 'true';
  }

  /**
   * --api, else SOV_API_URL, else the profile's, else http://127.0.0.1:8080. Plain http
   * to another machine is refused before anything is sent there (the password at login,
   * the session or SOV_TOKEN on every call), unless insecureHttpAllowed.
   */
  async apiUrl(): Promise<string> {
    const url = this.options.api || this.env.SOV_API_URL || (await this.profile()).apiUrl || defaultApiUrl;
    try {
      const parsed = new URL(url);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
    } catch {
      throw new CliError(`"${url}" is not an http(s) URL.`, { hint: 'Pass --api http://host:port.', exitCode: 2 });
    }
    if (inClear(url) && !this.insecureHttpAllowed) throw new InsecureHttpError('the control plane', url);
    return url.replace(/\/+$/, '');
  }

  /** The control plane, with SOV_TOKEN (an API key, for scripts) or the profile's session. */
  async controlPlane(): Promise<ControlPlaneClient> {
    if (this.#cp === undefined) {
      const token = this.env.SOV_TOKEN || (await this.profile()).accessToken;
      this.#cp = this.controlPlaneAt(await this.apiUrl(), token);
    }
    return this.#cp;
  }

  /**
   * A control plane client with this credential (undefined: signed out, as `sov login`
   * starts). A refused credential becomes NotSignedInError, which says to sign in again;
   * --debug traces each request (never the token).
   */
  controlPlaneAt(apiUrl: string, token: string | undefined): ControlPlaneClient {
    const profile = this.profileName;
    return new ControlPlaneClient({
      url: apiUrl,
      credential: () => token,
      onUnauthorized: (error) => new NotSignedInError(profile, error !== undefined, error?.code),
      trace: (message) => this.output.trace(message),
    });
  }

  /** The workspace a command works on: --workspace, SOV_WORKSPACE, or the profile's current one. */
  async workspace(): Promise<Workspace> {
    const cp = await this.controlPlane();
    const given = this.options.workspace || this.env.SOV_WORKSPACE;
    if (given) return findWorkspace(cp, given);
    const { workspaceId } = await this.profile();
    if (workspaceId === undefined) throw new NoWorkspaceError();
    try {
      return await cp.workspace(workspaceId);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'workspace_not_found') {
        throw new CliError('The current workspace no longer exists (or you lost access to it).', {
          code: error.code,
          hint: 'Select another with: sov workspace use <name> (list them with: sov workspace list).',
        });
      }
      throw error;
    }
  }

  /**
   * The workspace's data plane, with a token for just these scopes, fetched now: a
   * refusal then comes before the command changes anything. While the data plane is
   * starting (not yet registered), calls wait for it with a note.
   */
  async dataPlane(scopes: Scope[], workspaceId?: string): Promise<DataPlaneClient> {
    const cp = await this.controlPlane();
    const id = workspaceId ?? (await this.workspace()).workspaceId;
    const trace = (message: string) => this.output.trace(message);
    this.#tokens ??= new ScopedTokens(cp, { trace });
    const dp = new DataPlaneClient(this.#tokens, id, scopes, {
      trace,
      notYetWaitMs: 30_000,
      onWaiting: () => this.output.note(this.output.err.dim('Waiting for the data plane to get ready…')),
      allowInsecureHttp: this.insecureHttpAllowed,
    });
    await dp.connection();
    return dp;
  }
}
