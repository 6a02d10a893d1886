#!/usr/bin/env bash
# Give a home an account on the central broker and make the broker load it.
#
#   add-home.sh HOME_ID [PASSWORD]
#
# Prints the home's password (a new random one unless given): hand it to the
# enrollment service, never store it elsewhere. The home's user name is its
# home id; the ACL (mosquitto/acl) confines it to dacs/v1/HOME_ID/...
#
# Needs the dacs-hw package (python -m dacs) and mosquitto_passwd on this
# machine. Settings, from the environment:
#   DACS_PASSWORD_FILE  the broker's password file
#                       (default: ../mosquitto/passwords next to this script)
#   DACS_BROKER_RELOAD  command that makes the broker reload its password file
#                       with SIGHUP (default: docker compose kill -s SIGHUP mosquitto)
#   DACS_PYTHON         the Python with dacs-hw installed (default: python3)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
password_file="${DACS_PASSWORD_FILE:-${here}/../mosquitto/passwords}"
reload="${DACS_BROKER_RELOAD:-docker compose kill -s SIGHUP mosquitto}"
python="${DACS_PYTHON:-python3}"

if [[ $# -lt 1 || $# -gt 2 ]]; then
    echo "usage: $(basename "$0") HOME_ID [PASSWORD]" >&2
    exit 2
fi

arguments=(-m dacs broker add-home --password-file "${password_file}" --home-id "$1")
if [[ $# -eq 2 ]]; then
    arguments+=(--password "$2")
fi

password="$("${python}" "${arguments[@]}")"
# Mosquitto re-reads the password file and the ACL on SIGHUP; connected
# clients stay connected.
sh -c "${reload}"
echo "${password}"
