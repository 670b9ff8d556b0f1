#!/usr/bin/env bash
# Debian packages the local path needs: nginx (the edge); with --browser (make install passes it),
# Chromium and fonts with Hebrew letters for the browser tests; with --bench, wrk (the HTTP load generator
# of the benchmarks). Installs only what is missing, so a second run does nothing.
set -euo pipefail
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
want=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || want+=(nginx-light)
for flag in "$@"; do
  case "$flag" in
    --browser)
      [ -x /usr/bin/chromium ] || want+=(chromium)
      for font in fonts-dejavu-core fonts-noto-core; do installed "$font" || want+=("$font"); done ;;
    --bench) command -v wrk >/dev/null 2>&1 || want+=(wrk) ;;
  esac
done
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${want[*]} (run: sudo apt-get install -y ${want[*]})" >&2; exit 1
fi
echo "installing ${want[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
# The package starts a system nginx on port 80; our edge runs its own instance, so stop that one.
if [ -x /usr/sbin/service ] && pgrep -f "nginx: master process /usr/sbin/nginx" >/dev/null 2>&1; then
  service nginx stop >/dev/null 2>&1 || true
fi
