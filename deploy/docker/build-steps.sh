#!/usr/bin/env bash
# build-steps.sh: the Dockerfile's build and install steps, runnable without a container engine.
#
# The image's build stage runs this script; CI runs it on the host (there is no Docker daemon
# there) to prove the same steps work:
#   1. release build of the sluice binary (skipped with --binary PATH),
#   2. the runtime file layout in a staging directory (what the runtime stage COPYs to /),
#   3. the shared-library check: the binary and the Swift runtime libraries it pulls in may
#      need only libssl/libcrypto, libpq, the libc family, libstdc++/libgcc and libcurl
#      (FoundationNetworking), i.e. what debian:bookworm-slim + libssl3 libpq5 curl provide;
#      the Swift runtime .so files are copied into the staging directory,
#   4. the staged binary runs (`check-config`) with only the staged Swift libraries.
#
# Usage: deploy/docker/build-steps.sh [--stage DIR] [--scratch-path DIR] [--binary PATH]
# Prints the Swift runtime libraries the image carries; exits non-zero on any problem.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STAGE=""
SCRATCH="$REPO/.build"
BINARY=""
while [ $# -gt 0 ]; do
    case "$1" in
        --stage) STAGE="$2"; shift 2 ;;
        --scratch-path) SCRATCH="$2"; shift 2 ;;
        --binary) BINARY="$2"; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "build-steps.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$STAGE" ] || STAGE="$(mktemp -d /tmp/sluice-image.XXXXXX)"
say() { printf '[build-steps] %s\n' "$*"; }

# ---- 1. build ---------------------------------------------------------------------------
if [ -z "$BINARY" ]; then
    say "swift build -c release --product sluice (scratch path $SCRATCH)"
    (cd "$REPO" && swift build -c release --product sluice --scratch-path "$SCRATCH")
    BINARY="$SCRATCH/release/sluice"
fi
[ -x "$BINARY" ] || { echo "build-steps.sh: no executable at $BINARY" >&2; exit 1; }

# ---- 2. runtime layout ------------------------------------------------------------------
say "staging the runtime layout in $STAGE"
install -D -m 0755 "$BINARY" "$STAGE/usr/local/bin/sluice"
install -D -m 0755 "$REPO/deploy/docker/entrypoint.sh" "$STAGE/usr/local/bin/sluice-entrypoint"
mkdir -p "$STAGE/etc/sluice" "$STAGE/usr/local/share/sluice"

# ---- 3. shared libraries ----------------------------------------------------------------
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
# Swift runtime directories: the binary's RUNPATH without $ORIGIN (the toolchain's lib/swift/linux).
mapfile -t SWIFT_DIRS < <(readelf -d "$BINARY" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p' | tr ':' '\n' | grep -v '^\$ORIGIN' | grep -v '^$' || true)
[ "${#SWIFT_DIRS[@]}" -gt 0 ] || { echo "build-steps.sh: the binary has no RUNPATH to a Swift runtime" >&2; exit 1; }

# System libraries the runtime image provides, and the Debian package of each.
declare -A SYSTEM_PACKAGE=(
    [libssl.so.3]=libssl3 [libcrypto.so.3]=libssl3 [libpq.so.5]=libpq5
    [libc.so.6]=libc6 [libm.so.6]=libc6 [libpthread.so.0]=libc6 [libdl.so.2]=libc6 [librt.so.1]=libc6
    [libutil.so.1]=libc6 [ld-linux-x86-64.so.2]=libc6 [ld-linux-aarch64.so.1]=libc6
    [libstdc++.so.6]=libstdc++6 [libgcc_s.so.1]=libgcc-s1 [libcurl.so.4]="libcurl4 (from curl)"
)
declare -A SEEN=()
SWIFT_LIBS=()
SYSTEM_LIBS=()
queue=($(needed "$BINARY"))
while [ "${#queue[@]}" -gt 0 ]; do
    lib="${queue[0]}"; queue=("${queue[@]:1}")
    [ -z "${SEEN[$lib]:-}" ] || continue
    SEEN[$lib]=1
    found=""
    for dir in "${SWIFT_DIRS[@]}"; do
        if [ -e "$dir/$lib" ]; then found="$dir/$lib"; break; fi
    done
    if [ -n "$found" ]; then
        install -D -m 0644 "$(readlink -f "$found")" "$STAGE$found"
        SWIFT_LIBS+=("$found")
        queue+=($(needed "$found"))
    elif [ -n "${SYSTEM_PACKAGE[$lib]:-}" ]; then
        SYSTEM_LIBS+=("$lib  ← ${SYSTEM_PACKAGE[$lib]}")
    else
        echo "build-steps.sh: $lib is needed but is neither a Swift runtime library nor provided by the runtime image" >&2
        exit 1
    fi
done
printf '%s\n' "${SWIFT_LIBS[@]}" | sort >"$STAGE/usr/local/share/sluice/runtime-libraries.txt"

# ---- 4. the staged binary runs with the staged Swift runtime ----------------------------
STAGED_PATH="$(printf "$STAGE%s:" "${SWIFT_DIRS[@]}")"
LDD_OUT="$(LD_LIBRARY_PATH="$STAGED_PATH" ldd "$STAGE/usr/local/bin/sluice")"
if grep -q "not found" <<<"$LDD_OUT"; then
    echo "build-steps.sh: unresolved libraries:" >&2; grep "not found" <<<"$LDD_OUT" >&2; exit 1
fi
for lib in "${SWIFT_LIBS[@]}"; do
    name="$(basename "$lib")"
    grep -q "$name => $STAGE" <<<"$LDD_OUT" || { echo "build-steps.sh: $name does not resolve inside $STAGE" >&2; exit 1; }
done
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
printf '[sluice]\nlisten = "0.0.0.0:6432"\nadmin_listen = "0.0.0.0:9187"\n[databases.app]\nurl = "postgresql://app:secret@db:5432/app"\n' >"$probe/sluice.toml"
env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$STAGED_PATH" "$STAGE/usr/local/bin/sluice" check-config --config "$probe/sluice.toml" >/dev/null
env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$STAGED_PATH" SLUICE_CONFIG="" \
    SLUICE_DATABASES__app__URL="postgresql://app:secret@db:5432/app" \
    "$STAGE/usr/local/bin/sluice-entrypoint" check-config >/dev/null

say "Swift runtime libraries copied into the image (${#SWIFT_LIBS[@]}):"
sed 's/^/    /' "$STAGE/usr/local/share/sluice/runtime-libraries.txt"
say "system libraries the runtime image provides:"
printf '    %s\n' "${SYSTEM_LIBS[@]}" | sort -u
say "staged files: $(find "$STAGE" -type f | wc -l), $(du -sh "$STAGE" | cut -f1) in $STAGE"
say "OK"
