#!/usr/bin/env bash
# Server render of / over a large generated database (default 1,000,000
# posts): latency percentiles of the cached production path and of a full
# render, page weight, and the ranking's cold cost. The database is built
# once into bench/out/web-<N>.db (several minutes for 1M posts) and reused.
#
#   bash bench/web-render.sh            # 1,000,000 posts, 15 s per case
#   POSTS=100000 TIME=2s bash bench/web-render.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
CVECROWD_BENCH_POSTS="${POSTS:-1000000}" go test ./internal/web -run '^$' -bench 'BenchmarkHome' \
  -benchtime "${TIME:-15s}" -timeout 60m | tee bench/out/web-render.txt
