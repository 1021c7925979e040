# shellcheck shell=bash
# Shared by the recording stand-ins for `docker` and `kubectl` (sourced, not run).
#
# Layout (made by installStandIns() in standins.ts):
#   <dir>/bin/docker, <dir>/bin/kubectl   the stand-ins, first on the tests' PATH
#   <dir>/standin-common.sh               this file
#   <dir>/calls.jsonl                     one JSON array of argv per call
#   <dir>/state/                          what the "real" runtime would remember
#
# The paths are found from the script's own location, not from the environment,
# so they hold even when the generated scripts clean their environment.

standin_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # used by the scripts that source this file
state_dir=$standin_dir/state
calls_file=$standin_dir/calls.jsonl

# A JSON string literal for $1 (escapes \ " and control characters).
json_string() {
  local s=$1 out='' c i code
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      '"') out+='\"' ;;
      \\) out+="\\\\" ;; # a backslash becomes two
      $'\n') out+='\n' ;;
      $'\t') out+='\t' ;;
      $'\r') out+='\r' ;;
      *)
        printf -v code '%d' "'$c"
        if ((code >= 0 && code < 32)); then
          printf -v c '\\u%04x' "$code"
        fi
        out+=$c
        ;;
    esac
  done
  printf '"%s"' "$out"
}

# Append the full argv (program name first) as one JSON array line to calls.jsonl.
record_call() {
  local line='[' first=1 arg
  for arg in "$@"; do
    ((first)) || line+=','
    first=0
    line+=$(json_string "$arg")
  done
  printf '%s]\n' "$line" >>"$calls_file"
}

# Unsupported or wrong usage: say so on stderr and exit 1, like the real tools do.
fail() {
  printf '%s\n' "$*" >&2
  exit 1
}
