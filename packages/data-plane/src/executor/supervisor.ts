/**
 * The shell that starts every job, as the leader of its own process group. The job's
 * command comes in SOV_COMMAND (removed before the job sees its environment). The
 * supervisor's stdin is a pipe from the data plane: if the data plane dies (even by
 * kill -9), the pipe closes and the watcher kills the whole group, so no job outlives
 * the instance that holds its lease and an attempt never runs twice.
 */
export const supervisorScript = `
cmd=$SOV_COMMAND
unset SOV_COMMAND
exec 3<&0
sh -c "$cmd" </dev/null 3<&- &
child=$!
( while read -r _ <&3; do :; done; kill -KILL 0 ) &
watcher=$!
wait "$child"
code=$?
kill "$watcher" 2>/dev/null
exit "$code"
`;
