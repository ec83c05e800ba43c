#!/usr/bin/env bash
# checkov over terraform/ with 0 failed checks allowed; skips live inline (#checkov:skip=ID:reason).
# It runs from its own venv (.venv-checkov, pinned), created on first use, and never calls the vendor's API.
set -euo pipefail
# The project's PYTHONPATH (exported by the Makefile) must not leak into checkov's own venv.
unset PYTHONPATH

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${CHECKOV_VENV:-$ROOT/.venv-checkov}"
VERSION="3.3.30"
PYTHON="${PYTHON311:-$(command -v python3.11 || command -v python3)}"
TARGET="${1:-$ROOT/terraform}"

STAMP="$VENV/.checkov-$VERSION"
if [[ ! -x "$VENV/bin/checkov" || ! -f "$STAMP" ]]; then
  echo "checkov: installing checkov==$VERSION into ${VENV#"$ROOT"/}" >&2
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "checkov==$VERSION" >&2
  touch "$STAMP"
fi

[[ "$TARGET" == "--install-only" ]] && exit 0
exec "$VENV/bin/checkov" --directory "$TARGET" --framework terraform --compact --quiet --skip-download
