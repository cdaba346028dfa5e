import { ApiError, DataplaneOfflineError, InsecureHttpError, UnreachableError } from '@sovereign/client';

/**
 * Every failure the CLI reports is one of these: a message that says what went wrong,
 * a hint that says what to do, the server's stable `code` when there is one, and the
 * exit code. The entry point prints them; a stack trace only with --debug.
 *
 * Exit codes (documented in the README):
 *   0  success
 *   1  the request failed (refused by a server, or an unexpected error)
 *   2  the command line is wrong (unknown command, missing argument, bad value)
 *   3  not signed in, or the session expired
 *   4  a server could not be reached
 *   10 a followed run failed, 11 timed out, 12 was cancelled, 13 was lost
 */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  auth: 3,
  unreachable: 4,
  runFailed: 10,
  runTimedOut: 11,
  runCancelled: 12,
  runLost: 13,
} as const;

export interface CliErrorOptions {
  hint?: string | undefined;
  code?: string | undefined;
  status?: number | undefined;
  exitCode?: number;
  /** Extra lines listed under the message (e.g. each problem in a refused manifest). */
  details?: string[];
  cause?: unknown;
}

export class CliError extends Error {
  readonly hint: string | undefined;
  readonly code: string | undefined;
  readonly status: number | undefined;
  readonly exitCode: number;
  readonly details: string[];

  constructor(message: string, options: CliErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
    this.code = options.code;
    this.status = options.status;
    this.exitCode = options.exitCode ?? ExitCode.failed;
    this.details = options.details ?? [];
  }
}

/** The command line itself is wrong. */
export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, { hint, exitCode: ExitCode.usage });
  }
}

/** No credentials in this profile, or the server no longer accepts them. */
export class NotSignedInError extends CliError {
  constructor(profile: string, expired = false, code?: string) {
    super(
      expired
        ? `Your session for profile "${profile}" has expired or was ended.`
        : `You are not signed in (profile "${profile}").`,
      { hint: 'Sign in with: sov login', exitCode: ExitCode.auth, code },
    );
  }
}

/** A command needs a workspace and none is selected. */
export class NoWorkspaceError extends CliError {
  constructor() {
    super('No workspace is selected.', {
      hint: 'Select one with: sov workspace use <name>, create one with: sov workspace create <name> --region eu, or pass --workspace <name>.',
    });
  }
}

/** A name given on the command line matches nothing (or more than one thing). */
export class NotFoundError extends CliError {}

/** What to do about a server's refusal, by its stable code. */
const hints: Record<string, string> = {
  environment_build_failed:
    'Fix the lock file (the build log above ends with the error); the current deployment goes on running.',
  invalid_credentials: 'Check the email and password; in `npm start` the password is in .sovereign/admin-password.',
  insufficient_role: 'Ask an owner or admin of the organization for a higher role.',
  scope_not_allowed: 'Your role does not allow this; ask an owner or admin of the organization for a higher role.',
  workspace_name_taken: 'Choose another name, or select the existing one with: sov workspace use <name>.',
  workspace_not_found: 'List your workspaces with: sov workspace list.',
  region_not_found: 'List regions with: sov region list.',
  region_name_taken: 'Choose another name; list regions with: sov region list.',
  region_disabled: 'Enable it with: sov region update <region> --enable, or choose another region.',
  region_not_usable: "Use one of the organization's regions or a shared one: sov region list.",
  no_dataplane_available: 'Create or enable a data plane in the region: sov dataplane create <name> --region <region>.',
  dataplane_not_found: 'List data planes with: sov dataplane list.',
  dataplane_name_taken: 'Choose another name; list data planes with: sov dataplane list.',
  workspace_region_immutable: 'To move it, run: sov workspace move <workspace> --to <region>.',
  workspace_moved: 'Use the workspace it was moved to (sov workspace use <name>); its history stays readable here.',
  move_incomplete: 'Run the move again: it picks up where it stopped.',
  move_same_region: 'Choose another region: sov region list.',
  organization_not_found: 'List your organizations with: sov org list.',
  job_not_found: 'List the jobs of the workspace with: sov job list.',
  job_archived: 'The job is no longer in the deployment; deploy a project that has it.',
  run_not_found: 'List runs with: sov run list.',
  manifest_missing: 'Add a sovereign.yaml at the root of the directory you deploy.',
  manifest_invalid: 'Fix sovereign.yaml; each problem is listed above.',
  bundle_too_large: 'Leave large files out with a .sovignore (same syntax as .gitignore).',
  bundle_unsafe_path: 'Remove the listed entries from the project.',
  bundle_link_escape: 'Remove the listed links, or make them point inside the project.',
  bundle_special_file: 'Remove the listed entries (devices, sockets, pipes) from the project.',
  variable_not_found: 'List variables with: sov vars list.',
  variable_name_reserved: 'Choose another name.',
  output_not_found: 'List the outputs of the run with: sov outputs list <runId>.',
  state_not_found:
    'The job saves state when a run succeeds; run it first, or set one with: sov state set <job> <json>.',
  token_expired: 'Run the command again; a fresh token is fetched each time.',
  workspace_not_hosted: 'The data plane does not host that workspace: it was deleted, or belongs elsewhere.',
  dataplane_not_ready: 'The data plane is starting or was disabled; try again shortly, or ask its operator.',
  signup_disabled: 'Ask an administrator to create an account for you.',
  rate_limited: 'Wait a moment and try again.',
  validation_failed: 'Check the values given; see sov <command> --help.',
  run_limit_reached: 'Use the active run, or stop it first with: sov run cancel <runId>.',
  interactive_not_running: 'The app is not running; start it with: sov job trigger <job>.',
};

export function hintFor(code: string | undefined): string | undefined {
  return code === undefined ? undefined : hints[code];
}

/**
 * How the CLI shows a failure of the client (@sovereign/client): a refusal gets the hint
 * for its code and the problem's listed errors, an unreachable server says how to start
 * or reach it (exit 4). Anything else is shown as it is.
 */
export function presented(error: unknown): unknown {
  if (error instanceof DataplaneOfflineError) {
    return new CliError("The workspace's data plane has not come online yet: it has no address.", {
      hint: 'Start the data plane (npm start does), or ask its operator; then try again.',
      cause: error,
    });
  }
  if (error instanceof InsecureHttpError) {
    return new CliError(error.message, {
      hint:
        error.what === 'the control plane'
          ? 'Use its https:// address; on a network you trust, pass --insecure-http (or set SOV_ALLOW_INSECURE_HTTP=1).'
          : 'Ask its operator for an https:// address; on a network you trust, pass --insecure-http (or set SOV_ALLOW_INSECURE_HTTP=1).',
      code: 'insecure_http',
      // The control plane's address is the command line's (or the profile's) to fix.
      exitCode: error.what === 'the control plane' ? ExitCode.usage : ExitCode.failed,
      cause: error,
    });
  }
  if (error instanceof ApiError) {
    const code = typeof error.problem.code === 'string' ? error.problem.code : undefined;
    const errors = Array.isArray(error.problem.errors)
      ? (error.problem.errors as Array<{ path: string; message: string }>)
      : [];
    // A build that failed: the end of its log, where its error is (it stays in the region: only this client sees it).
    const buildLog = Array.isArray(error.problem.buildLog) ? (error.problem.buildLog as unknown[]).map(String) : [];
    return new CliError(error.message, {
      status: error.status,
      code,
      hint: hintFor(code),
      details: [
        ...errors.map((e) => (e.path === '' || e.path === '.' ? e.message : `${e.path}: ${e.message}`)),
        ...buildLog.slice(-40),
      ],
      cause: error,
    });
  }
  if (error instanceof UnreachableError) {
    return new CliError(error.message, {
      hint:
        error.what === 'the control plane'
          ? 'Is it running? Start a local platform with: npm start (sov dev), or point at another with --api <url>.'
          : 'The data plane may be down or unreachable from this machine; try again, or ask its operator.',
      exitCode: ExitCode.unreachable,
      cause: error.cause,
    });
  }
  return error;
}
