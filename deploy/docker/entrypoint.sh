#!/bin/sh
# sluice-entrypoint: runs sluice with the mounted config file if there is one, else from SLUICE_* variables.
#
#   SLUICE_CONFIG unset  → /etc/sluice/sluice.toml when that file exists; otherwise environment only
#   SLUICE_CONFIG=PATH   → that file (sluice reports it when it is missing)
#   SLUICE_CONFIG=""     → environment only
# Environment only: SLUICE_LISTEN and SLUICE_ADMIN_LISTEN default to every interface here
# (sluice's own defaults are 127.0.0.1:6432 and no admin endpoint), because a container is
# reached from outside. With a file, the file decides.
set -eu

config="${SLUICE_CONFIG-/etc/sluice/sluice.toml}"
if [ -n "$config" ] && { [ -f "$config" ] || [ -n "${SLUICE_CONFIG:-}" ]; }; then
    export SLUICE_CONFIG="$config"
else
    export SLUICE_CONFIG=""
    export SLUICE_LISTEN="${SLUICE_LISTEN:-0.0.0.0:6432}"
    export SLUICE_ADMIN_LISTEN="${SLUICE_ADMIN_LISTEN:-0.0.0.0:9187}"
fi

# exec: sluice becomes PID 1 and receives SIGTERM (graceful drain) and SIGHUP (reload) itself.
exec "$(dirname "$0")/sluice" "$@"
