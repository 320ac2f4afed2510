#!/bin/bash
# Compares two builds of the whole command: ROUNDS pairs of runs of TREE/dist/cli.js on FILE
# (Arrow to a temporary file), in ABBA order, each run after a `sync` and half a second (without
# them the second run of a pair paid for the first one's output being written back). Prints each
# tree's wall and CPU time (user + system, GNU time), median and minimum. A tree is a copy of
# dist/, build/ and package.json with node_modules beside it (a symbolic link will do).
#
#   bash bench/ab-cli.sh ROUNDS FILE TREE_A TREE_B
set -euo pipefail
if [ $# -ne 4 ]; then echo "usage: bash bench/ab-cli.sh ROUNDS FILE TREE_A TREE_B" >&2; exit 2; fi
rounds=$1 file=$2 a=$3 b=$4
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() {
  sync; sleep 0.5
  /usr/bin/time -f "$1 %e %U %S" -a -o "$out/times" node "$1/dist/cli.js" "$file" -o "$out/out.arrow" --no-progress >/dev/null
}
for i in $(seq "$rounds"); do
  if [ $((i % 2)) -eq 1 ]; then run "$a"; run "$b"; else run "$b"; run "$a"; fi
done
# The median (the upper one of an even count) and the minimum of a column of numbers.
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "median %.2f min %.2f s", v[int(NR / 2) + 1], v[1] }'; }
for tree in "$a" "$b"; do
  runs=$(awk -v t="$tree" '$1 == t' "$out/times")
  echo "$tree: wall $(awk '{ print $2 }' <<<"$runs" | stats) | CPU $(awk '{ print $3 + $4 }' <<<"$runs" | stats) | $(wc -l <<<"$runs") runs"
done
