/**
 * The shell that starts every job, as the leader of its own process group. The job's
 * command comes in SOV_COMMAND (removed before the job sees its environment).
 *
 * - It starts the command only once the data plane writes a line on its stdin: the data
 *   plane then holds the output pipes, so not a byte of the job's output is missed.
 * - Its stdin stays a pipe from the data plane: if the data plane dies (even by kill -9),
 *   the pipe closes and the watcher kills the whole group, so no job outlives the
 *   instance that holds its lease and an attempt never runs twice.
 * - It writes the command's exit status on fd 3, which only it holds: the data plane
 *   reads how the job ended from there, whoever started the shell.
 */
export const supervisorScript = `
cmd=$SOV_COMMAND
unset SOV_COMMAND
read -r _ || exit 125
exec 9<&0
sh -c "$cmd" </dev/null 9<&- 3>&- &
child=$!
( while read -r _ <&9; do :; done; kill -KILL 0 ) 3>&- &
watcher=$!
wait "$child"
code=$?
kill "$watcher" 2>/dev/null
echo "$code" >&3
exit "$code"
`;
