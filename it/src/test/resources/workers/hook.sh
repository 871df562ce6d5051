#!/bin/sh
# A watcher hook for HookIT: records its argv and CIRCUS_* environment in $DIR/hooks.log; fails when $DIR/fail-HOOK
# exists, sleeps 60 s when $DIR/sleep-HOOK does.
dir=$(dirname "$0")
hook=$1
echo "$* | pid=${CIRCUS_PID:-} signum=${CIRCUS_SIGNUM:-} process_pid=${CIRCUS_PROCESS_PID:-} exit_code=${CIRCUS_EXIT_CODE:-} watcher=$CIRCUS_WATCHER" >> "$dir/hooks.log"
[ -e "$dir/sleep-$hook" ] && sleep 60
if [ -e "$dir/fail-$hook" ]; then echo "refused by $hook"; exit 1; fi
exit 0
