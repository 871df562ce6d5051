# bash completion for circusctl (jcircus). Load it with:  source <(circusctl completion bash)
# Watcher names are asked of the running daemon (with the same --endpoint/--curve options as the line).
_circusctl() {
  local cur prev cmd i
  cur="${COMP_WORDS[COMP_CWORD]}"
  prev="${COMP_WORDS[COMP_CWORD-1]}"
  local cmds="add decr dstats get globaloptions incr kill list listen listsockets numprocesses numwatchers options quit reload reloadconfig restart rm set signal start stats status stop tail keygen completion"
  local globals=()
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${COMP_WORDS[i]}" in
      --endpoint|--timeout|--curve-server-key|--curve-key)
        globals+=("${COMP_WORDS[i]}" "${COMP_WORDS[i+1]}"); ((i++)) ;;
      --endpoint=*|--curve-server-key=*|--curve-key=*) globals+=("${COMP_WORDS[i]}") ;;
      -*) ;;
      *) cmd="${COMP_WORDS[i]}"; break ;;
    esac
  done
  if [ -z "$cmd" ]; then
    case "$prev" in
      --endpoint|--timeout) return ;;
      --curve-server-key|--curve-key) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac
    if [[ "$cur" == -* ]]; then
      COMPREPLY=($(compgen -W "--endpoint --timeout --json --prettify --curve-server-key --curve-key --help --version" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
    fi
    return
  fi
  local opts=""
  case "$cmd" in
    add) opts="--start --waiting --option" ;;
    incr|decr|quit|reloadconfig) opts="--waiting" ;;
    kill) opts="--signum --graceful_timeout --waiting" ;;
    listen) opts="--pubsub" ;;
    reload) opts="--terminate --waiting --sequential" ;;
    start|stop|restart) opts="--waiting --match" ;;
    rm) opts="--waiting --nostop" ;;
    set) opts="--waiting" ;;
    signal) opts="--children --recursive --childpid" ;;
    stats) opts="--extended" ;;
    tail) opts="--pid --stdout --stderr --lines --follow --raw --no-local" ;;
    keygen) opts="--dir --force" ;;
  esac
  case "$prev" in
    --signum) COMPREPLY=($(compgen -W "HUP INT QUIT KILL USR1 USR2 TERM CONT STOP TSTP WINCH" -- "$cur")); return ;;
    --match) COMPREPLY=($(compgen -W "simple glob regex" -- "$cur")); return ;;
    --dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --pid|--lines|-n) return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
    return
  fi
  case "$cmd" in
    completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur")); return ;;
    keygen|add|dstats|globaloptions|listen|listsockets|numwatchers|quit|reloadconfig) return ;;
  esac
  # only the first positional of a command is a watcher name (signal also takes signal names)
  local n=0
  for ((i = i + 1; i < COMP_CWORD; i++)); do
    [[ "${COMP_WORDS[i]}" == -* ]] || ((n++))
  done
  if [ "$n" -eq 0 ]; then
    local names
    # the timeout covers a fresh JVM's ZeroMQ connect and handshake too: 1 s was not always enough on a busy machine
    names=$(command circusctl "${globals[@]}" --timeout 3 list 2>/dev/null | tr ',' ' ')
    COMPREPLY=($(compgen -W "$names" -- "$cur"))
  elif [ "$cmd" = signal ]; then
    COMPREPLY=($(compgen -W "HUP INT QUIT KILL USR1 USR2 TERM CONT STOP TSTP WINCH" -- "$cur"))
  fi
}
complete -F _circusctl circusctl
