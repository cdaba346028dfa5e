import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError } from '../errors.ts';

export const defaultApiUrl = 'http://127.0.0.1:8080';
export const defaultProfile = 'default';

/** What one profile remembers: where, who, the session, and the current workspace. */
export interface Profile {
  apiUrl?: string;
  email?: string;
  accessToken?: string;
  expiresAt?: string;
  workspaceId?: string;
  workspaceName?: string;
}

interface ConfigFile {
  profiles: Record<string, Profile>;
}

/**
 * The configuration directory: SOV_CONFIG_DIR, else $XDG_CONFIG_HOME/sovereign, else
 * ~/.config/sovereign. Tests point SOV_CONFIG_DIR at a temporary directory.
 */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SOV_CONFIG_DIR) return env.SOV_CONFIG_DIR;
  const base = env.XDG_CONFIG_HOME ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), '.config');
  return join(base, 'sovereign');
}

/**
 * Profiles in `<configDir>/config.json`, mode 0600 in a 0700 directory: it holds
 * session tokens. Written to a temporary file and renamed, so a crash never leaves
 * half a file.
 */
export class ProfileStore {
  readonly dir: string;
  readonly file: string;

  constructor(dir: string) {
    this.dir = dir;
    this.file = join(dir, 'config.json');
  }

  async #read(): Promise<ConfigFile> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { profiles: {} };
      throw new CliError(`Cannot read ${this.file}: ${(error as Error).message}`, { cause: error });
    }
    try {
      const parsed = JSON.parse(text) as Partial<ConfigFile>;
      return { profiles: parsed.profiles ?? {} };
    } catch (error) {
      throw new CliError(`${this.file} is not valid JSON.`, {
        hint: `Fix it by hand, or delete it and sign in again with: sov login`,
        cause: error,
      });
    }
  }

  async get(name: string): Promise<Profile> {
    return (await this.#read()).profiles[name] ?? {};
  }

  async all(): Promise<Record<string, Profile>> {
    return (await this.#read()).profiles;
  }

  /** Applies `change` to one profile and saves; `undefined` values are removed. */
  async update(name: string, change: Partial<Record<keyof Profile, string | undefined>>): Promise<Profile> {
    const config = await this.#read();
    const next: Profile = { ...config.profiles[name] };
    for (const [key, value] of Object.entries(change) as Array<[keyof Profile, string | undefined]>) {
      if (value === undefined) delete next[key];
      else next[key] = value;
    }
    config.profiles[name] = next;
    await this.#write(config);
    return next;
  }

  async #write(config: ConfigFile): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const temporary = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
      await chmod(temporary, 0o600);
      await rename(temporary, this.file);
    } catch (error) {
      await rm(temporary, { force: true });
      throw new CliError(`Cannot write ${this.file}: ${(error as Error).message}`, { cause: error });
    }
  }
}
