# test_lib.sh: what the shell tests share, sourced as
#   . "$(dirname "$0")/test_lib.sh"
# A scratch directory $work removed at exit; ok/fail lines and a failure
# count; expect, for the CLI's promise on bad input (an exit code and one
# line on stderr saying what was wrong); finish, the summary and the exit
# status; torch_python, which picks a Python that has PyTorch or skips.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# expect CODE PATTERN [--] COMMAND...: COMMAND exits CODE and writes exactly
# one line to stderr, which matches PATTERN (grep).
expect() {
  local code=$1 pattern=$2
  shift 2
  [ "${1:-}" = "--" ] && shift
  "$@" >"$work/out" 2>"$work/err"
  local got=$? lines
  lines=$(wc -l <"$work/err")
  if [ "$got" != "$code" ]; then fail "$* exited $got, expected $code: $(cat "$work/err")"; return; fi
  if ! grep -q -- "$pattern" "$work/err"; then fail "$*: stderr '$(cat "$work/err")' lacks '$pattern'"; return; fi
  if [ "$lines" != 1 ]; then fail "$*: $lines lines on stderr, expected one: $(cat "$work/err")"; return; fi
  ok "$* -> $got: $(cat "$work/err")"
}

# finish NAME [WHAT]: "NAME: N failure(s)" and exit 1, or "NAME: WHAT".
finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$1: $failures failure(s)"
    exit 1
  fi
  echo "$1: ${2:-all passed}"
}

# torch_python CANDIDATES...: sets $python to the first of CANDIDATES,
# /usr/bin/python3 and python3 that imports torch; with none, exit 77 (ctest's
# skip) saying so.
torch_python() {
  python=
  local candidate
  for candidate in "$@" /usr/bin/python3 python3; do
    if "$candidate" -c "import torch" >/dev/null 2>&1; then
      python=$candidate
      return 0
    fi
  done
  echo "SKIP: PyTorch is not installed for any of: $* /usr/bin/python3 python3 (apt-get install python3-torch)"
  exit 77
}
