#!/usr/bin/env bash
# abi_test.sh LIBSOMA_SO INCLUDE_DIR ALLOW_LIST [OP_LIST]: libsoma.so exports
# the public API and nothing else. Three lists must be equal:
#   - the dynamic symbols libsoma.so defines (nm -D --defined-only),
#   - the committed allow-list (tests/abi_symbols.txt, one name a line), plus
#     the public ops that OP_LIST (src/core/op_list.h) defines with
#     SOMA_OP_PUBLIC(name, ...): an op's one place is its entry there,
#   - the functions declared with SOMA_API in include/soma.h and include/soma/*.h;
# and no function declared in a public header may lack SOMA_API.
# A new public function means a new line in the allow-list (an ABI change,
# made on purpose); a leaked internal symbol fails here.
# Exit 0 when all agree, 1 with a FAIL line for each difference.
set -u
export LC_ALL=C
lib=$1 include=$2 allow=$3 op_list=${4:-}
. "$(dirname "$0")/test_lib.sh"

if ! nm -D --defined-only "$lib" >"$work/nm" 2>"$work/nm.err"; then
  echo "FAIL: nm -D --defined-only $lib: $(cat "$work/nm.err")"
  exit 1
fi
awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' "$work/nm" | sort -u >"$work/exported"
{
  grep -v '^#' "$allow" | grep -v '^$'
  if [ -n "$op_list" ]; then sed -n -E 's/^SOMA_OP_PUBLIC\((soma_[a-z0-9_]+),.*/\1/p' "$op_list"; fi
} | sort -u >"$work/allowed"
headers=("$include/soma.h" "$include"/soma/*.h)
# a declaration: at the start of a line, a return type, then soma_NAME(
sed -n -E 's/^SOMA_API +(const +)?([a-z_0-9]+ +)+\**(const +\**)?(soma_[a-z0-9_]+)\(.*/\4/p' "${headers[@]}" | sort -u >"$work/declared"
grep -n -E '^(const +)?([a-z_0-9]+ +)+\**(const +\**)?soma_[a-z0-9_]+\(' "${headers[@]}" >"$work/unmarked"

echo "libsoma.so exports $(wc -l <"$work/exported") symbols; the allow-list has $(wc -l <"$work/allowed");" \
     "the headers declare $(wc -l <"$work/declared") with SOMA_API"
while read -r s; do fail "$s is exported by $lib but not in $allow (internal? mark it static or hidden)"; done \
  < <(comm -23 "$work/exported" "$work/allowed")
while read -r s; do fail "$s is in $allow but $lib does not export it"; done \
  < <(comm -13 "$work/exported" "$work/allowed")
while read -r s; do fail "$s is in $allow but no public header declares it with SOMA_API"; done \
  < <(comm -13 "$work/declared" "$work/allowed")
while read -r s; do fail "$s is declared with SOMA_API but missing from $allow"; done \
  < <(comm -23 "$work/declared" "$work/allowed")
while read -r s; do fail "a public declaration without SOMA_API: $s"; done <"$work/unmarked"

finish abi "the exported symbols are exactly the public API"
