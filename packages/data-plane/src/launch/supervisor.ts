/**
 * The shell that starts every job, as the leader of its own process group (unjailed) or
 * the first process after its jail's init. How it gets the job's command and environment
 * differs (`plainPrelude`, `jailPrelude`); the rest is the same:
 *
 * - It starts the command only once the data plane writes a line on its stdin: the data
 *   plane then holds the output pipes, so not a byte of the job's output is missed.
 * - Its stdin stays a socket to the data plane: if the data plane dies (even by kill -9),
 *   the socket closes and the watcher kills the whole group, so no job outlives the
 *   instance that holds its lease and an attempt never runs twice.
 * - It writes the command's exit status back on that same socket, which the job cannot
 *   reach, and waits for the data plane's answer before it ends: while it waits, the
 *   run's jail is still there to be looked at (a full /tmp is only seen while it exists).
 * - The command runs by `eval` in a subshell: a fork of this small shell, where `sh -c`
 *   would also load a new shell (about half a millisecond more on every start).
 *
 * `killAll` is how the watcher ends the run's processes: its process group unjailed; in a
 * jail, every process of it (`kill -1`: all but the jail's init and the caller, in the
 * jail's own PID namespace), since a job may leave its group (`setsid`) and a process
 * left running would outlive the data plane. `leftovers` runs once the data plane has
 * answered: in a jail, what the command left running is ended there, as a container's
 * processes end with its first one; else the jail's init would wait for them, holding the
 * run (and its slot) until its timeout.
 */
function body(killAll: string, leftovers: string): string {
  return `
cmd=$SOV_COMMAND
unset SOV_COMMAND
exec 9<&0
( eval "unset cmd; $cmd" ) </dev/null 9<&- &
child=$!
( while read -r _ <&9; do :; done; ${killAll} ) </dev/null &
watcher=$!
wait "$child"
code=$?
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
echo "$code" >&9
read -r _ <&9
${leftovers}
exit "$code"
`;
}

/** Unjailed: the command comes in SOV_COMMAND, the environment is the process's own. */
const plainPrelude = `
read -r _ || exit 125
`;

/**
 * Jailed: the jail is made before its run is known, so the environment (and the command,
 * in SOV_COMMAND) comes as a file the data plane writes into the jail's own tmpfs just
 * before the go. It is emptied once read: the job's environment is its own to see, but
 * the command is not a variable it gets. The jail says `ready` on its stdout first (the
 * spawner reads it before it hands the pipe over): its filesystem is then whole, which
 * bwrap gives no sign of.
 */
export function jailPrelude(envFile: string, workdir: string): string {
  return `
echo ready
read -r _ || exit 125
. ${envFile} || exit 125
: > ${envFile}
cd ${workdir} || exit 125
`;
}

// Unjailed, `kill -1` would be every process of the data plane's user: the group only.
export const supervisorScript = plainPrelude + body('kill -KILL 0', ':');

export function jailSupervisorScript(envFile: string, workdir: string): string {
  return jailPrelude(envFile, workdir) + body('kill -KILL -1', 'kill -KILL -1 2>/dev/null');
}

/** A value as a single-quoted shell word: nothing in it is expanded. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** An environment as a file for the jailed supervisor to source: one `export NAME='value'` per variable. */
export function envFile(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([name, value]) => `export ${name}=${shellQuote(value)}\n`)
    .join('');
}
