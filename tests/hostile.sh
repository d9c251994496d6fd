#!/usr/bin/env bash
# hostile.sh SOMA: soma as a careless or hostile user meets it, end to end.
# Each case runs the command (with a time limit: a hang fails), checks its
# exit status and the one line on standard error, then what must hold
# afterwards: inputs unchanged, no temporary file left, an old checkpoint
# intact, devices still devices. The classes of issue 15:
#   1 outputs never destroy inputs       6 resume is honest
#   2 targets that are not regular files 7 checkpoint metadata is hostile input
#   3 every write is checked             8 resources (memory limits, OpenBLAS)
#   4 problems found before the work     9 no silent wrong results
#   5 interrupts (SIGINT, SIGTERM)
# A full disk is a small tmpfs (mounted here when we may: root) and
# /dev/full; memory limits are ulimit -v and a cgroup (v1 or v2, when we may
# create one). A case that cannot run here says so and why, and counts as
# skipped. Ends with "N passed, N failed, N skipped"; exits 1 if any failed.
set -u
soma=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
mounts=()
cgroups=()
cleanup() {
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null; done
  for c in "${cgroups[@]}"; do rmdir "$c" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
trap "exit 143" TERM
cd "$work" || exit 1
passed=0 failed=0 skipped=0
skips=()
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
skip() { echo "skip: $*"; skipped=$((skipped + 1)); skips+=("$*"); }
# holds NAME CONDITION...: a check after a case (a shell test)
holds() {
  local name=$1
  shift
  if "$@"; then ok "$name"; else bad "$name: [$*] does not hold"; fi
}

# case NAME WANT PATTERN -- COMMAND...: exit status WANT and one line on
# stderr matching PATTERN (grep -E; '' for none expected), within 60 s.
# The outputs stay in NAME.out and NAME.err.
case_() {
  local name=$1 want=$2 pattern=$3
  shift 4
  timeout 60 "$@" >"$name.out" 2>"$name.err"
  local got=$? lines
  lines=$(grep -vc "warning" "$name.err")
  if [ "$got" != "$want" ]; then
    bad "$name: exit $got, expected $want: $(head -3 "$name.err")"
  elif [ -n "$pattern" ] && ! grep -Eq -- "$pattern" "$name.err"; then
    bad "$name: stderr '$(head -3 "$name.err")' lacks '$pattern'"
  elif [ -n "$pattern" ] && [ "$lines" != 1 ]; then
    bad "$name: $lines lines on stderr, expected one: $(head -3 "$name.err")"
  else
    ok "$name -> $got${pattern:+: $(grep -v warning "$name.err" | head -1)}"
  fi
}
no_temporaries() { ! compgen -G "$1/*.tmp.*" >/dev/null; }
same_sum() { [ "$(md5sum <"$1")" = "$2" ]; }
is_chr() { [ -c "$1" ]; }
train=(train --device cpu --val-split 0.1)

# ---- the data ----------------------------------------------------------------------------
# label = a + b > c, with two noise features; regression: y = a + 2b - c
awk 'BEGIN { srand(7); print "a,b,c,d,e,label";
  for (i = 0; i < 300; i++) { a = rand(); b = rand(); c = rand() * 2; d = rand(); e = rand();
    printf "%.5f,%.5f,%.5f,%.5f,%.5f,%d\n", a, b, c, d, e, (a + b > c) } }' >d.csv
awk -F, 'NR == 1 { print "a,b,c,y"; next } { printf "%s,%s,%s,%.5f\n", $1, $2, $3, $1 + 2 * $2 - $3 }' d.csv >r.csv
d_sum=$(md5sum <d.csv)
"$soma" "${train[@]}" --data csv:d.csv --layers 5,16,2 --epochs 3 --save m.st >/dev/null 2>&1 || bad "setup: train m.st"
"$soma" "${train[@]}" --data csv:r.csv --layers 3,8,1 --epochs 2 --save mr.st >/dev/null 2>&1 || bad "setup: train mr.st"
m_sum=$(md5sum <m.st)
mkfifo pipe
can_mount=0
mkdir full ro && mount -t tmpfs -o size=32k tmpfs full 2>/dev/null && mounts+=("$work/full") &&
  mount -t tmpfs -o ro,size=32k tmpfs ro 2>/dev/null && mounts+=("$work/ro") && can_mount=1

# ---- 1. outputs never destroy inputs (exit 2 before any work) -----------------------------
case_ c1_save_over_data 2 "--save d.csv is the --data file" -- "$soma" "${train[@]}" --data csv:d.csv --save d.csv
case_ c1_output_over_model 2 "--output m.st is the --model file" -- "$soma" predict --device cpu --model m.st --data csv:d.csv --output m.st
case_ c1_save_and_plot 2 "are the same file" -- "$soma" "${train[@]}" --data csv:d.csv --save x.svg --plot x.svg
case_ c1_dot_spelling 2 "are the same file" -- "$soma" "${train[@]}" --data csv:d.csv --save x.svg --plot ./x.svg
ln -s d.csv link.csv && ln d.csv hard.csv
case_ c1_symlink_to_data 2 "--log link.csv is the --data file" -- "$soma" "${train[@]}" --data csv:d.csv --log link.csv
case_ c1_hard_link_to_data 2 "--save hard.csv is the --data file" -- "$soma" "${train[@]}" --data csv:d.csv --save hard.csv
case_ c1_save_over_init 2 "--save m.st is the --init file" -- "$soma" "${train[@]}" --data csv:d.csv --layers 5,16,2 --init m.st --save m.st
case_ c1_plot_over_metrics 2 "-o m.csv is the metrics file m.csv" -- "$soma" plot m.csv -o m.csv
case_ c1_stdout_onto_data 2 "standard output goes to the input file of --data" -- sh -c '"$0" predict --device cpu --model m.st --data csv:d.csv >>d.csv' "$soma"
holds c1_inputs_unchanged same_sum d.csv "$d_sum"
holds c1_model_unchanged same_sum m.st "$m_sum"
holds c1_nothing_written test ! -e x.svg

# ---- 2. targets that are not regular files -----------------------------------------------
case_ c2_save_dev_null 0 "" -- "$soma" "${train[@]}" --data csv:d.csv --layers 5,8,2 --epochs 1 --save /dev/null
holds c2_dev_null_still_a_device is_chr /dev/null
case_ c2_save_dev_full 1 "/dev/full: writing in place failed: No space left on device" -- "$soma" "${train[@]}" --data csv:d.csv --layers 5,8,2 --epochs 1 --save /dev/full
holds c2_dev_full_still_a_device is_chr /dev/full
case_ c2_save_fifo_no_reader 1 "a FIFO that no process is reading" -- "$soma" "${train[@]}" --data csv:d.csv --layers 5,8,2 --epochs 1 --save pipe
timeout 60 cat pipe >from_pipe.st &
reader=$!
case_ c2_save_fifo_with_reader 0 "" -- "$soma" "${train[@]}" --data csv:d.csv --layers 5,8,2 --epochs 1 --save pipe
wait "$reader"
case_ c2_checkpoint_through_the_fifo 0 "" -- "$soma" summary --model from_pipe.st
ln -s m2.st link.st
case_ c2_save_through_symlink 0 "" -- "$soma" "${train[@]}" --data csv:d.csv --layers 5,8,2 --epochs 1 --save link.st
holds c2_symlink_kept test -L link.st -a -f m2.st
mkdir adir
case_ c2_save_onto_directory 1 "--save: adir: is a directory" -- "$soma" "${train[@]}" --data csv:d.csv --save adir
case_ c2_data_fifo_not_waited_on 1 "is a FIFO \(named pipe\), not a regular file" -- "$soma" "${train[@]}" --data csv:pipe
case_ c2_model_fifo_not_waited_on 1 "is a FIFO \(named pipe\), not a regular file" -- "$soma" eval --device cpu --model pipe --data csv:d.csv
case_ c2_data_device 1 "is a character device, not a regular file" -- "$soma" "${train[@]}" --data csv:/dev/zero
if [ $can_mount = 1 ]; then
  case_ c2_read_only_target 1 "Read-only file system" -- "$soma" "${train[@]}" --data csv:d.csv --save ro/m.st
else
  skip "c2_read_only_target: cannot mount a read-only tmpfs here (not root or no CAP_SYS_ADMIN)"
fi

# ---- 3. every write is checked -------------------------------------------------------------
case_ c3_version_to_full 1 "writing standard output failed: No space left on device" -- sh -c '"$0" --version >/dev/full' "$soma"
case_ c3_eval_to_full 1 "writing standard output failed" -- sh -c '"$0" eval --device cpu --model m.st --data csv:d.csv --json >/dev/full' "$soma"
case_ c3_predict_to_full 1 "writing standard output failed" -- sh -c '"$0" predict --device cpu --model m.st --data csv:d.csv >/dev/full' "$soma"
case_ c3_train_to_full 1 "writing standard output failed" -- sh -c '"$0" train --device cpu --data csv:d.csv --layers 5,8,2 --epochs 1 >/dev/full' "$soma"
case_ c3_predict_output_full 1 "--output /dev/full: writing failed: No space left on device" -- "$soma" predict --device cpu --model m.st --data csv:d.csv --output /dev/full
if [ $can_mount = 1 ]; then
  cp m.st full/old.st
  case_ c3_save_on_full_disk 1 "No space left on device" -- "$soma" "${train[@]}" --data csv:d.csv --layers 5,128,128,2 --epochs 1 --save full/old.st
  holds c3_old_checkpoint_kept same_sum full/old.st "$m_sum"
  holds c3_no_temporary_left no_temporaries full
  "$soma" predict --device cpu --model m.st --data csv:d.csv --raw --output full/p.txt >/dev/null 2>&1
  p_sum=$(md5sum <full/p.txt)
  head -c 40000 /dev/zero >full/filler 2>/dev/null # fill what is left
  case_ c3_predict_on_full_disk 1 "No space left on device" -- "$soma" predict --device cpu --model mr.st --data csv:r.csv --output full/p.txt
  holds c3_old_predictions_kept same_sum full/p.txt "$p_sum"
  rm -f full/p.txt full/old.st
  head -c 40000 /dev/zero >>full/filler 2>/dev/null
  case_ c3_log_on_full_disk 1 "--log full/log.csv: writing epoch 1 failed: No space left on device" -- "$soma" "${train[@]}" --data csv:d.csv --layers 5,8,2 --epochs 2 --log full/log.csv
  rm -f full/filler full/log.csv
else
  skip "c3_save_on_full_disk, c3_predict_on_full_disk, c3_log_on_full_disk: cannot mount a small tmpfs here (not root); /dev/full cases ran"
fi

# ---- 4. problems found before the work -----------------------------------------------------
case_ c4_save_missing_dir 1 "--save: nodir/m.st: cannot create the temporary file" -- "$soma" "${train[@]}" --data csv:d.csv --save nodir/m.st
holds c4_no_epoch_before_failing test ! -s c4_save_missing_dir.out
case_ c4_log_missing_dir 1 "--log: nodir/m.csv: cannot create the temporary file" -- "$soma" "${train[@]}" --data csv:d.csv --log nodir/m.csv
case_ c4_plot_missing_dir 1 "--plot: nodir/c.svg: cannot create the temporary file" -- "$soma" "${train[@]}" --data csv:d.csv --plot nodir/c.svg
case_ c4_output_missing_dir 1 "--output: nodir/p.txt: cannot create the temporary file" -- "$soma" predict --device cpu --model m.st --data csv:d.csv --output nodir/p.txt

# ---- 5. interrupts --------------------------------------------------------------------------
# a run of a few seconds; SIGINT once its first epoch is done, i.e. in the second
long=("${train[@]}" --data csv:d.csv --layers 5,1024,1024,2 --batch 2 --epochs 3 --seed 3)
"$soma" "${long[@]}" --save straight.st >/dev/null 2>&1 || bad "c5 setup: the straight run"
set -m # background jobs get SIGINT (a script's are started with it ignored)
# interrupt SIGNAL NAME ARGS...: runs the long training, signals it after epoch 1
interrupt() {
  local sig=$1 name=$2
  shift 2
  "$soma" "${long[@]}" "$@" >"$name.out" 2>"$name.err" &
  local pid=$! waited=0
  while ! grep -q "^epoch 1/" "$name.out" && [ $waited -lt 600 ]; do sleep 0.05; waited=$((waited + 1)); done
  kill -s "$sig" $pid
  wait $pid
  echo $? >"$name.rc"
}
interrupt INT c5_sigint --save stopped.st
holds c5_sigint_exits_130 test "$(cat c5_sigint.rc)" = 130
holds c5_sigint_says_saved grep -q "interrupted by SIGINT after .*; saved stopped.st (continue with --resume stopped.st)" c5_sigint.err
holds c5_no_temporary_left no_temporaries .
case_ c5_resume_after_sigint 0 "" -- "$soma" "${long[@]}" --resume stopped.st --save stopped.st
"$soma" predict --device cpu --model straight.st --data csv:d.csv --raw >straight.txt 2>/dev/null
"$soma" predict --device cpu --model stopped.st --data csv:d.csv --raw >stopped.txt 2>/dev/null
holds c5_resumed_bit_for_bit cmp -s straight.txt stopped.txt
interrupt TERM c5_sigterm --save term.st
holds c5_sigterm_exits_143_saved test "$(cat c5_sigterm.rc)" = 143 -a -f term.st
interrupt INT c5_sigint_no_save
holds c5_no_save_says_nothing_saved grep -q "nothing saved (no --save)" c5_sigint_no_save.err
# two SIGINTs while a 200 MB checkpoint is being written (one step per epoch,
# a save after each): the second one ends the process at once, leaving no
# temporary file and no message of a save
head -9 d.csv >d8.csv
"$soma" train --device cpu --data csv:d8.csv --layers 5,4096,4096,2 --val-split 0 --epochs 1000 \
  --save big.st --save-every 1 >/dev/null 2>c5_twice.err &
pid=$!
waited=0
while ! compgen -G "big.st.tmp.*" >/dev/null && [ $waited -lt 3000 ]; do sleep 0.01; waited=$((waited + 1)); done
kill -INT $pid
sleep 0.02
kill -INT $pid
wait $pid
rc=$?
set +m
holds c5_second_signal_exits_130 test $rc = 130
holds c5_second_signal_exits_at_once test -z "$(grep saved c5_twice.err)"
holds c5_second_signal_leaves_no_temporary no_temporaries .

# ---- 6. resume is honest ---------------------------------------------------------------------
"$soma" "${train[@]}" --data csv:d.csv --layers 5,16,2 --epochs 6 --log six.csv >/dev/null 2>&1
"$soma" "${train[@]}" --data csv:d.csv --layers 5,16,2 --epochs 3 --save run.st --log run.csv >/dev/null 2>&1
case_ c6_documented_resume 0 "" -- "$soma" "${train[@]}" --data csv:d.csv --epochs 6 --resume run.st --save run.st --log run.csv
holds c6_header_says_replanned grep -q "the cosine schedule is re-planned over 6 epochs (it was planned for 3)" c6_documented_resume.out
# the learning rates of epochs 4-6 are those of a run started with 6 epochs (not 0, the old bug)
holds c6_schedule_as_if_six_epochs test "$(sed -n '5,7p' run.csv | cut -d, -f5)" = "$(sed -n '5,7p' six.csv | cut -d, -f5)"
case_ c6_lr_beside_resume 2 "--lr differs from the resumed run's 0.001 \(run.st\)" -- "$soma" "${train[@]}" --data csv:d.csv --epochs 9 --resume run.st --lr 0.5
case_ c6_batch_beside_resume 2 "--batch differs from the resumed run's 128" -- "$soma" "${train[@]}" --data csv:d.csv --epochs 9 --resume run.st --batch 7
case_ c6_optim_beside_resume 2 "--optim differs from the resumed run's adam" -- "$soma" "${train[@]}" --data csv:d.csv --epochs 9 --resume run.st --optim sgd
case_ c6_layers_beside_resume 2 "--layers differs from the resumed run's 5,16,2" -- "$soma" "${train[@]}" --data csv:d.csv --epochs 9 --resume run.st --layers 5,32,2
case_ c6_loss_beside_resume 2 "--loss differs" -- "$soma" "${train[@]}" --data csv:d.csv --epochs 9 --resume run.st --loss mse
case_ c6_init_beside_resume 2 "--init and --resume" -- "$soma" "${train[@]}" --data csv:d.csv --epochs 9 --resume run.st --init m.st
case_ c6_complete_run 2 "has trained all its 6 epochs" -- "$soma" "${train[@]}" --data csv:d.csv --resume run.st
head -201 r.csv >r200.csv
case_ c6_other_data 2 "does not fit this data's 2 steps per epoch" -- "$soma" "${train[@]}" --data csv:r200.csv --epochs 9 --resume mr.st
"$soma" "${train[@]}" --data csv:d.csv --layers 5,16,2 --epochs 1 --normalize none --save none.st >/dev/null 2>&1
case_ c6_resume_normalize_none 0 "" -- "$soma" "${train[@]}" --data csv:d.csv --epochs 2 --resume none.st

# ---- 7. checkpoint metadata is hostile input ---------------------------------------------
# a v1 file (no metadata checksum) with the metadata given, the tensors of m.st
edit_meta() { # OUT KEY VALUE: m.st with one metadata entry changed, as an unsigned v1 file
  python3 - m.st "$@" <<'PY'
import json, struct, sys
src, out, key, value = sys.argv[1:5]
blob = open(src, "rb").read()
n = struct.unpack("<Q", blob[:8])[0]
header = json.loads(blob[8:8 + n])
meta = header["__metadata__"]
meta.pop("checksum", None)
meta["format"] = "soma.mlp.v1"
meta[key] = value
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-(8 + len(text)) % 8)
open(out, "wb").write(struct.pack("<Q", len(text)) + text + blob[8 + n:])
PY
}
if command -v python3 >/dev/null; then
  edit_meta bomb.st layers "2000000000:relu:0:0,2:identity:0:0"
  case_ c7_layer_bomb 1 "describes layer 0 as 5 inputs -> 2000000000 units" -- "$soma" summary --model bomb.st
  edit_meta epochs.st state.epochs_done 1e12
  case_ c7_epochs_1e12 1 "'state.epochs_done' = '1e12' is not an integer" -- "$soma" "${train[@]}" --data csv:d.csv --resume epochs.st
  edit_meta lr.st optim.lr nan
  case_ c7_nan_lr 1 "'optim.lr' = nan is out of range" -- "$soma" summary --model lr.st
else
  skip "c7_layer_bomb, c7_epochs_1e12, c7_nan_lr: no python3 to write the files"
fi
cp m.st edited.st
sed -i 's/"train.seed":"1"/"train.seed":"2"/' edited.st # the header edited, the data untouched
case_ c7_metadata_edit_caught 1 "checksum mismatch" -- "$soma" summary --model edited.st
case_ c7_v1_checkpoint_loads 0 "" -- "$soma" summary --model "$here/corpus/checkpoint/v1-adam-standardized.st"

# ---- 8. resources ---------------------------------------------------------------------------
if ldd "$soma" 2>/dev/null | grep -q libasan; then
  skip "c8_version_under_ulimit, c8_model_under_ulimit: this soma is built with AddressSanitizer, which reserves terabytes of address space: no ulimit -v fits it"
else
  case_ c8_version_under_ulimit 0 "" -- sh -c 'ulimit -v 800000 && exec "$0" --version' "$soma"
  case_ c8_model_under_ulimit 1 "needs [0-9.]+ GiB but the process can get .* \(the address-space limit set by ulimit -v" -- \
    sh -c 'ulimit -v 800000 && exec "$0" train --device cpu --data csv:d.csv --layers 5,1000000000,2' "$soma"
fi
cg=""
v1=/sys/fs/cgroup/memory
v2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo 2>/dev/null)
if [ -w "$v1" ] && mkdir "$v1/soma_hostile_$$" 2>/dev/null; then
  cg=$v1/soma_hostile_$$
  cgroups+=("$cg")
  echo $((512 << 20)) >"$cg/memory.limit_in_bytes"
elif [ -n "$v2" ] && grep -qw memory "$v2/cgroup.controllers" 2>/dev/null && mkdir "$v2/soma_hostile_$$" 2>/dev/null; then
  cg=$v2/soma_hostile_$$
  cgroups+=("$cg")
  echo $((512 << 20)) >"$cg/memory.max" 2>/dev/null || cg=""
fi
if [ -n "$cg" ]; then
  in_cgroup=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg")
  case_ c8_model_beyond_cgroup 1 "needs .* but the process can get .* \(the cgroup memory limit, 512.0 MiB" -- \
    "${in_cgroup[@]}" "$soma" train --device cpu --data csv:d.csv --layers 5,1000000000,2
  case_ c8_training_within_cgroup 0 "" -- "${in_cgroup[@]}" "$soma" "${train[@]}" --data csv:d.csv --layers 5,64,2 --epochs 1
else
  skip "c8_model_beyond_cgroup, c8_training_within_cgroup: cannot create a memory cgroup here (v1 $v1 not writable, v2 ${v2:-not mounted} without the memory controller)"
fi
long_dir=$work$(printf '/%0100d' $(seq 1 30)) # a 3000-character path: kept whole, never cut
mkdir -p "$long_dir" && cp d.csv "$long_dir/d.csv"
case_ c8_long_paths 0 "" -- "$soma" "${train[@]}" --data "csv:$long_dir/d.csv" --layers 5,8,2 --epochs 1 --save "$long_dir/m.st"

# ---- 9. no silent wrong results ---------------------------------------------------------------
awk -F, 'NR == 5 { $1 = "3e38" } { print }' OFS=, d.csv >huge.csv
case_ c9_eval_non_finite 1 "1 of 300 rows give outputs that are not finite \(the first: row 3\)" -- "$soma" eval --device cpu --model m.st --data csv:huge.csv
holds c9_no_score_printed test ! -s c9_eval_non_finite.out
case_ c9_predict_non_finite 1 "their lines say nan" -- "$soma" predict --device cpu --model m.st --data csv:huge.csv
holds c9_predict_marks_the_row test "$(sed -n 4p c9_predict_non_finite.out)" = nan
awk -F, 'NR == 193 { $1 = "3e38" } { print }' OFS=, d.csv >hugeval.csv # data row 191: in the validation split
"$soma" "${train[@]}" --data csv:hugeval.csv --layers 5,8,2 --epochs 1 >c9_val.out 2>c9_val.err
holds c9_val_loss_shown grep -q "val_loss nan" c9_val.out
awk -F, 'NR == 1 { print; next } { $6 = (NR % 10); if (NR == 40) $6 = 2.5; print }' OFS=, d.csv >typo.csv
case_ c9_label_typo 1 "the label of row 38 is 2.5, but 299 of the 300 labels are class indices" -- "$soma" "${train[@]}" --data csv:typo.csv --epochs 1
awk -F, 'NR == 1 { print; next } { $6 = (NR % 10); if (NR == 40) $6 = 255; print }' OFS=, d.csv >sparse.csv
"$soma" "${train[@]}" --data csv:sparse.csv --layers auto --epochs 1 >/dev/null 2>c9_sparse.err
holds c9_sparse_labels_warned grep -q "warning: the labels take 11 distinct values but the largest is 255" c9_sparse.err
awk -F, 'NR == 1 { print; next } { $6 = 0; print }' OFS=, d.csv >single.csv
"$soma" "${train[@]}" --data csv:single.csv --epochs 1 >/dev/null 2>c9_single.err
holds c9_single_class_warned grep -q "warning: every label is 0: a single class" c9_single.err
case_ c9_lr_minus_one 2 "--lr must be > 0" -- "$soma" "${train[@]}" --data csv:d.csv --lr -1
case_ c9_epochs_zero 2 "--epochs must be in \[1, 1000000\]" -- "$soma" "${train[@]}" --data csv:d.csv --epochs 0
case_ c9_momentum_with_adam 2 "--momentum applies only to --optim sgd" -- "$soma" "${train[@]}" --data csv:d.csv --momentum 0.5
case_ c9_regression_eval 0 "" -- "$soma" eval --device cpu --model mr.st --data csv:r.csv
holds c9_regression_metrics grep -Eq "mse [0-9.e-]+  rmse [0-9.e-]+  mae [0-9.e-]+  r2 " c9_regression_eval.out

echo
for s in "${skips[@]}"; do echo "skipped: $s"; done
echo "hostile: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
