import type { Scope, Workspace } from '@sovereign/contract';
import { ControlPlane } from './api/control-plane.ts';
import { DataPlane } from './api/data-plane.ts';
import { configDir, defaultApiUrl, defaultProfile, type Profile, ProfileStore } from './config/profiles.ts';
import { ApiError, CliError, NoWorkspaceError } from './errors.ts';
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
  #cp: ControlPlane | undefined;

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

  /** --api, else SOV_API_URL, else the profile's, else http://127.0.0.1:8080. */
  async apiUrl(): Promise<string> {
    const url = this.options.api || this.env.SOV_API_URL || (await this.profile()).apiUrl || defaultApiUrl;
    try {
      const parsed = new URL(url);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
    } catch {
      throw new CliError(`"${url}" is not an http(s) URL.`, { hint: 'Pass --api http://host:port.', exitCode: 2 });
    }
    return url.replace(/\/+$/, '');
  }

  /** The control plane, with SOV_TOKEN (an API key, for scripts) or the profile's session. */
  async controlPlane(): Promise<ControlPlane> {
    if (this.#cp === undefined) {
      const token = this.env.SOV_TOKEN || (await this.profile()).accessToken;
      this.#cp = new ControlPlane(await this.apiUrl(), token, this.profileName, this.output);
    }
    return this.#cp;
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

  /** The workspace's data plane, with a token for just these scopes. */
  async dataPlane(scopes: Scope[], workspaceId?: string): Promise<DataPlane> {
    const cp = await this.controlPlane();
    const id = workspaceId ?? (await this.workspace()).workspaceId;
    return DataPlane.connect(cp, id, scopes, this.output);
  }
}
