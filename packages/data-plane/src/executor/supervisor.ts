/**
 * The shell that starts every job, as the leader of its own process group. The job's
 * command comes in SOV_COMMAND (removed before the job sees its environment).
 *
 * - It starts the command only once the data plane writes a line on its stdin: the data
 *   plane then holds the output pipes, so not a byte of the job's output is missed.
 * - Its stdin stays a socket to the data plane: if the data plane dies (even by kill -9),
 *   the socket closes and the watcher kills the whole group, so no job outlives the
 *   instance that holds its lease and an attempt never runs twice.
 * - It writes the command's exit status back on that same socket, which the job cannot
 *   reach: the data plane reads how the job ended from there, whoever started the shell.
 * - The command runs by `eval` in a subshell: a fork of this small shell, where `sh -c`
 *   would also load a new shell (about half a millisecond more on every start).
 */
export const supervisorScript = `
cmd=$SOV_COMMAND
unset SOV_COMMAND
read -r _ || exit 125
exec 9<&0
( eval "unset cmd; $cmd" ) </dev/null 9<&- &
child=$!
( while read -r _ <&9; do :; done; kill -KILL 0 ) </dev/null &
watcher=$!
wait "$child"
code=$?
kill "$watcher" 2>/dev/null
echo "$code" >&9
exit "$code"
`;
