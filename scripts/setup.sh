#!/usr/bin/env bash
# Create .venv with Python >= 3.14.2 and every dependency pinned by
# constraints.txt, and make sure the test services (Mosquitto, PostgreSQL) exist.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
start=$(date +%s)

log() { printf 'setup: %s\n' "$*" >&2; }

ensure_system_packages() {
    # name-of-command:debian-package pairs the tests and the demo need
    # (a lib*.so.N name: a shared library, which PyTurboJPEG loads for
    # Home Assistant's camera and stream).
    local missing=() pair cmd pkg
    for pair in mosquitto:mosquitto initdb:postgresql chromium:chromium \
        libturbojpeg.so.0:libturbojpeg0; do
        cmd="${pair%%:*}"; pkg="${pair##*:}"
        if [ "$cmd" = initdb ]; then
            compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && continue
        fi
        if [[ "$cmd" == lib*.so.* ]]; then
            ldconfig -p 2>/dev/null | grep -q "$cmd" && continue
            missing+=("$pkg"); continue
        fi
        command -v "$cmd" >/dev/null 2>&1 && continue
        missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing ${missing[*]} with apt"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        log "missing system packages: ${missing[*]}"
        log "install them, e.g. 'sudo apt-get install ${missing[*]}', then run 'make setup' again"
        exit 1
    fi
}

ensure_system_packages

PYTHON="$("$ROOT/scripts/find-python.sh")"
log "using $PYTHON ($("$PYTHON" -c 'import sys; print(sys.version.split()[0])'))"

rm -rf "$VENV"
"$PYTHON" -m venv --without-pip "$VENV"
# ensurepip is missing from Debian's split packages: bootstrap pip from a wheel.
pip_wheel=""
for candidate in "$(dirname "$PYTHON")/../share/python-wheels"/pip-*.whl /usr/share/python-wheels/pip-*.whl; do
    [ -f "$candidate" ] && pip_wheel="$candidate" && break
done
if [ -n "$pip_wheel" ]; then
    "$VENV/bin/python" "$pip_wheel/pip" install -q --disable-pip-version-check pip \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
else
    "$VENV/bin/python" -m ensurepip -q
fi

# One pip command for everything: installing the Home Assistant test harness
# separately lets pip upgrade packages Home Assistant pins.
# (Some machines list package mirrors that may be absent: drop pip's noise about them.)
# pymicro-vad and pyspeex-noise have no cp314 wheels: pip compiles them,
# with the headers next to the interpreter (Debian keeps pyconfig.h under
# include/<triplet>/, which the include/python3.14/pyconfig.h stub names).
include_root="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"].rsplit("/", 1)[0])')"
CPATH="$include_root${CPATH:+:$CPATH}" "$VENV/bin/pip" install -q --disable-pip-version-check \
    -c "$ROOT/constraints.txt" -e "$ROOT[aggregator,scenario,test,dev]" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
"$VENV/bin/pip" check >&2

touch "$VENV/.installed"
log "done in $(( $(date +%s) - start )) s"
