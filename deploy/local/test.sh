#!/usr/bin/env bash
# `make test`: start Kafka and the store unless they run already, run the whole suite against them,
# and stop what this script started. Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/../.."
started=0
if ! bash deploy/local/infra.sh status >/dev/null 2>&1; then
  bash deploy/local/infra.sh up || exit 1
  started=1
fi
.venv/bin/python -m pytest "$@"
status=$?
[ "$started" = 1 ] && bash deploy/local/infra.sh down
exit $status
