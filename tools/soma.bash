# bash completion for soma. Installed as share/bash-completion/completions/soma;
# or: source tools/soma.bash. The commands, their options and the values an
# option lists ("sgd, adam or adamw") are read from soma's own --help, so the
# completion follows the option tables of the soma it completes.
_soma() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} soma=${COMP_WORDS[0]}
  COMPREPLY=()
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "$("$soma" --help 2>/dev/null | awk '/^  [a-z]+  / { print $1 }') help --help --version" -- "$cur"))
    return
  fi
  local command=${COMP_WORDS[1]} help
  [ "$command" = help ] && { COMPREPLY=($(compgen -W "$("$soma" --help 2>/dev/null | awk '/^  [a-z]+  / { print $1 }')" -- "$cur")); return; }
  if [ "$command" = fetch ] && [ "$COMP_CWORD" -eq 2 ]; then
    COMPREPLY=($(compgen -W "mnist" -- "$cur"))
    return
  fi
  help=$("$soma" "$command" --help 2>/dev/null) || return
  # "--opt=va": complete the value after the '='
  if [[ $cur == --*=* ]]; then
    prev=${cur%%=*}
    cur=${cur#*=}
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(printf '%s\n' "$help" | awk '$1 ~ /^-/ { print $1 }') --help" -- "$cur"))
    return
  fi
  # the option before takes a value (its help line says S or N)?
  local line
  line=$(printf '%s\n' "$help" | awk -v o="$prev" '$1 == o && ($2 == "S" || $2 == "N")')
  if [ -n "$line" ]; then
    # its help starts with a list of names ("hidden activation: relu, tanh or gelu (relu)")
    local values
    values=$(printf '%s\n' "$line" | sed -E 's/^ +[^ ]+ +[SN] +//; s/^[a-z ]+: //; s/ \(.*//' |
             grep -E '^[a-z0-9_]+((, | or )[a-z0-9_:N]+)+$' | sed -E 's/, | or /\n/g' | grep -E '^[a-z0-9_]+$')
    if [ "$prev" = --data ]; then values="mnist csv: idx:"; fi
    if [ -n "$values" ]; then
      COMPREPLY=($(compgen -W "$values" -- "$cur"))
      [ "$prev" = --data ] && [[ $cur == csv:* || $cur == idx:* ]] && COMPREPLY=($(compgen -P "${cur%%:*}:" -f -- "${cur#*:}"))
      return
    fi
  fi
  COMPREPLY=($(compgen -f -- "$cur")) # files: models, data, outputs
}
complete -o filenames -F _soma soma
