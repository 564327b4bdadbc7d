#!/usr/bin/env bash
# Benchmark of `cvecrowd import cvelist`: throughput (records/s) and peak
# memory (max RSS) on generated cvelistV5 trees of copies of the real
# records, at two sizes, to show memory stays flat as the tree grows.
# Usage: bash bench/import-cvelist.sh [SIZE...]   (default: 50000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(50000 100000)
out=bench/out
mkdir -p "$out"
go build -o "$out/cvecrowd" ./cmd/cvecrowd
for n in "${sizes[@]}"; do
  tree="$out/tree-$n"
  [ -d "$tree" ] || go run ./bench/gentree -n "$n" -out "$tree"
  rm -f "$out/bench-$n.db"*
  /usr/bin/time -v "$out/cvecrowd" import cvelist --db "$out/bench-$n.db" "$tree" >"$out/summary-$n.txt" 2>"$out/time-$n.txt"
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/time-$n.txt")
  rate=$(sed -n 's/.*(\([0-9]*\) records\/s).*/\1/p' "$out/summary-$n.txt")
  printf 'dir records=%-7s records/s=%-6s peak_rss_MiB=%s\n' "$n" "$rate" "$((rss / 1024))"
  cat "$out/summary-$n.txt"
  # The same tree as a zip: Go's zip reader holds the central directory.
  zipf="$out/tree-$n.zip"
  [ -f "$zipf" ] || (cd "$tree" && python3 -c 'import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for root, _, files in os.walk("."):
        for f in files: z.write(os.path.join(root, f))' "$OLDPWD/$zipf")
  rm -f "$out/bench-$n.db"*
  /usr/bin/time -v "$out/cvecrowd" import cvelist --db "$out/bench-$n.db" "$zipf" >"$out/summary-$n.txt" 2>"$out/time-$n.txt"
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/time-$n.txt")
  rate=$(sed -n 's/.*(\([0-9]*\) records\/s).*/\1/p' "$out/summary-$n.txt")
  printf 'zip records=%-7s records/s=%-6s peak_rss_MiB=%s\n' "$n" "$rate" "$((rss / 1024))"
done
