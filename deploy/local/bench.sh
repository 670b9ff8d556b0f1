#!/usr/bin/env bash
# `make bench`: start Kafka and the store unless they run already, run the benchmarks, stop what it started.
set -uo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/system-deps.sh --bench || exit 1
started=0
if ! bash deploy/local/infra.sh status >/dev/null 2>&1; then
  bash deploy/local/infra.sh up || exit 1
  started=1
fi
.venv/bin/python -m bench.run "$@"
status=$?
[ "$started" = 1 ] && bash deploy/local/infra.sh down
exit $status
