#!/usr/bin/env bash
# Print the path of a Python interpreter >= 3.14.2, getting one from Debian's
# archive when the machine has none (Home Assistant 2026.x needs 3.14.2+).
#
# Search order: python3.14 on PATH, pyenv versions, `uv python find`, then
# Debian's own python3.14 packages (suite forky), unpacked into .tools/ with a
# private apt state so the system's apt configuration is never touched.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="${DACS_TOOLS_DIR:-$ROOT/.tools}"
PYROOT="$TOOLS/python3.14"
MIN_VERSION="3.14.2"

log() { printf 'find-python: %s\n' "$*" >&2; }

good_enough() {
    # Resolve to the real file: a symlinked interpreter breaks venv prefix detection.
    local candidate real
    candidate="$1"
    real="$(readlink -f "$candidate" 2>/dev/null)" || return 1
    [ -x "$real" ] || return 1
    "$real" - "$MIN_VERSION" >/dev/null 2>&1 <<'PY' || return 1
import sys
wanted = tuple(int(p) for p in sys.argv[1].split("."))
sys.exit(0 if sys.version_info[:3] >= wanted else 1)
PY
    printf '%s\n' "$real"
}

try_path() {
    local p
    for name in python3.14 python3; do
        p="$(command -v "$name" 2>/dev/null)" || continue
        good_enough "$p" && return 0
    done
    return 1
}

try_pyenv() {
    local root
    command -v pyenv >/dev/null 2>&1 || return 1
    root="$(pyenv root)"
    for v in $(pyenv versions --bare 2>/dev/null | sort -rV); do
        good_enough "$root/versions/$v/bin/python3" && return 0
    done
    return 1
}

try_uv() {
    local p
    command -v uv >/dev/null 2>&1 || return 1
    p="$(uv python find ">=$MIN_VERSION" 2>/dev/null)" || return 1
    good_enough "$p"
}

try_unpacked() {
    good_enough "$PYROOT/usr/bin/python3.14"
}

debian_arch() {
    command -v apt-get >/dev/null 2>&1 || return 1
    command -v dpkg >/dev/null 2>&1 || return 1
    arch="$(dpkg --print-architecture)"
    case "$arch" in
        amd64) triplet=x86_64-linux-gnu; loader=ld-linux-x86-64.so.2 ;;
        arm64) triplet=aarch64-linux-gnu; loader=ld-linux-aarch64.so.1 ;;
        *) log "no recipe for architecture $arch"; return 1 ;;
    esac
}

unpack_from_debian() {
    # Download Debian forky's packages "$@" with a private apt state and
    # unpack them into $PYROOT; the system's apt configuration is never touched.
    local state="$TOOLS/apt"
    rm -rf "$state"
    mkdir -p "$state/etc/preferences.d" "$state/etc/sources.list.d" \
        "$state/lists/partial" "$state/cache/archives/partial" "$state/debs" "$PYROOT"
    : > "$state/status"
    local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -f "$keyring" ] || { log "missing $keyring (package debian-archive-keyring)"; return 1; }
    echo "deb [signed-by=$keyring] http://deb.debian.org/debian forky main" > "$state/etc/sources.list"
    local apt_opts=(
        -o "Dir::Etc=$state/etc"
        -o "Dir::Etc::SourceList=$state/etc/sources.list"
        -o "Dir::Etc::SourceParts=$state/etc/sources.list.d"
        -o "Dir::Etc::Preferences=$state/etc/preferences"
        -o "Dir::Etc::PreferencesParts=$state/etc/preferences.d"
        -o "Dir::State=$state"
        -o "Dir::State::Lists=$state/lists"
        -o "Dir::State::status=$state/status"
        -o "Dir::Cache=$state/cache"
        -o "APT::Architecture=$arch"
        -o "APT::Sandbox::User=root"
        -qq
    )
    apt-get "${apt_opts[@]}" update >&2 || return 1
    (cd "$state/debs" && apt-get "${apt_opts[@]}" download "$@" >&2) || return 1
    local deb
    for deb in "$state/debs"/*.deb; do dpkg -x "$deb" "$PYROOT"; done
    rm -rf "$state/debs" "$state/cache" "$state/lists"
}

# The C headers: Home Assistant's voice integrations (pymicro-vad,
# pyspeex-noise) publish no wheels for cp314 at the versions it pins, so
# pip compiles them. Debian keeps pyconfig.h under the triplet directory;
# setup.sh puts $PYROOT/usr/include on CPATH for the compiler.
HEADER_PACKAGES=(libpython3.14-dev python3.14-dev libpython3.14)

fetch_from_debian() {
    debian_arch || return 1
    if ! command -v patchelf >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ]; then
            log "installing patchelf"
            apt-get install -y -qq patchelf >/dev/null 2>&1 \
                || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq patchelf >/dev/null 2>&1; } \
                || { log "could not install patchelf"; return 1; }
        else
            log "patchelf is needed: sudo apt-get install patchelf"; return 1
        fi
    fi
    log "fetching Debian's python3.14 (suite forky) into $PYROOT"
    rm -rf "$PYROOT"
    unpack_from_debian \
        python3.14 python3.14-minimal libpython3.14-minimal libpython3.14-stdlib \
        python3-pip-whl libc6 libssl3t64 libexpat1 zlib1g libffi8 libsqlite3-0 \
        libbz2-1.0 liblzma5 libncursesw6 libtinfo6 libreadline8t64 libuuid1 \
        libdb5.3t64 libgcc-s1 libmpdec4 libzstd1 libcrypt1 "${HEADER_PACKAGES[@]}" \
        || return 1
    # Point the interpreter at the unpacked (newer) glibc so it runs on an older system.
    patchelf --set-interpreter "$PYROOT/usr/lib/$triplet/$loader" \
        --force-rpath --set-rpath "$PYROOT/usr/lib/$triplet" \
        "$PYROOT/usr/bin/python3.14"
    try_unpacked
}

ensure_unpacked_headers() {
    # An interpreter unpacked before the headers were part of the recipe.
    [ "$1" = "$(readlink -f "$PYROOT/usr/bin/python3.14" 2>/dev/null)" ] || return 0
    [ -f "$PYROOT/usr/include/python3.14/Python.h" ] && return 0
    debian_arch || return 1
    log "fetching Debian's python3.14 headers into $PYROOT"
    unpack_from_debian "${HEADER_PACKAGES[@]}"
}

found="$(try_path || try_pyenv || try_uv || try_unpacked || fetch_from_debian)" || {
    cat >&2 <<MSG
find-python: no Python >= $MIN_VERSION found.
  Home Assistant 2026.x (and so this project's tests) needs Python $MIN_VERSION or newer.
  Install one (python3.14 on PATH, 'pyenv install 3.14', or 'uv python install 3.14')
  and run 'make setup' again. On Debian/Ubuntu with apt, this script fetches one itself.
MSG
    exit 1
}
ensure_unpacked_headers "$found" || log "no C headers for $found: packages without cp314 wheels will not build"
printf '%s\n' "$found"
