#!/usr/bin/env bash
# npm test's pretest step: what the tests need that npm cannot install. Debian's prometheus
# (the metrics test scrapes a gateway with a real server and runs promtool) and chromium (the
# dashboard test drives it headless), and PostgreSQL running on 127.0.0.1:5432 (the store
# tests use the real server). Idempotent and silent when everything is there; says what to do
# and exits 1 when it cannot do it itself (not root, no apt-get).
set -euo pipefail

missing=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
[ -x /usr/bin/chromium ] || missing+=(chromium)

cannot() {
  echo "npm test: $1" >&2
  exit 1
}

if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || cannot "the tests need ${missing[*]} (Debian packages) and this machine has no apt-get; install them, then run npm test again"
  [ "$(id -u)" -eq 0 ] || cannot "the tests need Debian's ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}"
  echo "npm test: installing ${missing[*]} from Debian's packages (once)" >&2
  log=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    cannot "apt-get could not install ${missing[*]} (its output is above)"
  fi
  rm -f "$log"
fi

if [ -z "${SWITCHYARD_TEST_PG:-}" ] && ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  [ -d /etc/postgresql ] || cannot "the tests need PostgreSQL on 127.0.0.1:5432 with trust authentication (or SWITCHYARD_TEST_PG=postgres://...); none is installed"
  [ "$(id -u)" -eq 0 ] || cannot "PostgreSQL on 127.0.0.1:5432 is not running; start it with: sudo pg_ctlcluster $(ls /etc/postgresql | sort -V | tail -1) main start"
  echo "npm test: starting PostgreSQL" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -q -h 127.0.0.1 -p 5432 || cannot "PostgreSQL did not come up on 127.0.0.1:5432 within 30 s"
fi
