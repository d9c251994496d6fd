#!/bin/sh
# gen-man.sh SOMA OUTDIR: the man pages of the soma command, from its own
# --help (which prints the option tables of tools/*.c), so that they never
# drift from the program: OUTDIR/soma.1 and OUTDIR/soma-COMMAND.1 for each
# command `soma --help` lists. Run by the build (target soma_man); installed
# into share/man/man1.
set -eu
soma=$1 out=$2
mkdir -p "$out"
version=$("$soma" --version | sed 's/^soma //')

# roff-safe text: backslashes, a leading dot or quote, hyphens in options
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/" -e 's/-/\\-/g'; }

header() { # NAME SECTION-TITLE
  printf '.TH %s 1 "" "soma %s" "soma manual"\n' "$1" "$version"
}

# soma.1: the commands and the common rules
commands=$("$soma" --help | awk '/^  [a-z]+  / { print $1 }')
{
  header SOMA
  printf '.SH NAME\nsoma \\- train multilayer perceptrons on the CPU or NVIDIA GPUs\n'
  printf '.SH SYNOPSIS\n.B soma\n.I command\n[\\fIoptions\\fR]\n.br\n.B soma \\-\\-version\n'
  printf '.SH DESCRIPTION\nEach command has its own page, soma\\-\\fIcommand\\fR(1), and prints its options with\n'
  printf '.BR "soma \\fIcommand\\fB \\-\\-help" .\n'
  printf 'Options take their value as the next argument or after "=" (\\-\\-epochs 5, \\-\\-epochs=5);\n'
  printf 'names are never abbreviated; "\\-\\-" ends the options.\n'
  printf '.SH COMMANDS\n'
  for c in $commands; do
    printf '.TP\n.B %s\n' "$c"
    "$soma" --help | awk -v c="$c" '$1 == c { sub(/^  [a-z]+ +/, ""); print }' | esc
  done
  printf '.SH ENVIRONMENT\n.TP\n.B SOMA_DATA\nwhere \\-\\-data mnist looks (SOMA_DATA/mnist; default ~/.cache/soma/mnist)\n'
  printf '.TP\n.B OMP_NUM_THREADS\nthe CPU threads when \\-\\-threads is not given\n'
  printf '.SH EXIT STATUS\n'
  "$soma" --help | sed -n '/^Exit status/,$p' | esc
  printf '.SH SEE ALSO\n'
  last=$(printf '%s\n' $commands | tail -n 1)
  for c in $commands; do
    if [ "$c" = "$last" ]; then printf '.BR soma\\-%s (1)\n' "$c"; else printf '.BR soma\\-%s (1),\n' "$c"; fi
  done

} >"$out/soma.1"

for c in $commands; do
  summary=$("$soma" --help | awk -v c="$c" '$1 == c { sub(/^  [a-z]+ +/, ""); print }' | esc)
  "$soma" "$c" --help >"$out/.help" 2>/dev/null
  upper=$(printf 'SOMA-%s' "$c" | tr 'a-z' 'A-Z')
  {
    header "$upper"
    printf '.SH NAME\nsoma\\-%s \\- %s\n' "$c" "$summary"
    printf '.SH SYNOPSIS\n'
    sed -n '1s/^usage: //p' "$out/.help" | esc
    # lines that are neither the usage nor an option: a description
    if sed '1d' "$out/.help" | grep -qv '^  -'; then
      printf '.SH DESCRIPTION\n'
      sed '1d' "$out/.help" | grep -v '^  -' | esc
    fi
    if grep -q '^  -' "$out/.help"; then
      printf '.SH OPTIONS\n'
      # "  --name ARG   help": .TP, the name bold and its argument italic, then the help
      grep '^  -' "$out/.help" | awk '{
          name = $1; arg = ""; rest = $0
          sub(/^  [^ ]+/, "", rest)
          if (rest ~ /^ [SN] /) { arg = substr(rest, 2, 1); rest = substr(rest, 3) }
          sub(/^ +/, "", rest)
          printf "%s\037%s\037%s\n", name, arg, rest
        }' | while IFS=$(printf '\037') read -r name arg text; do
        n=$(printf '%s' "$name" | esc)
        t=$(printf '%s' "$text" | esc)
        if [ -n "$arg" ]; then printf '.TP\n.BI "%s " %s\n%s\n' "$n" "$arg" "$t"
        else printf '.TP\n.B %s\n%s\n' "$n" "$t"; fi
      done
      printf '.TP\n.B \\-\\-help\nprint the usage and the options\n'
    fi
    printf '.SH SEE ALSO\n.BR soma (1)\n'
  } >"$out/soma-$c.1"
done
rm -f "$out/.help"
