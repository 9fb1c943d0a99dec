#!/usr/bin/env bash
# Runs every check the project requires before a commit: ruff (lint + format), mypy --strict,
# pytest (in parallel with pytest-xdist; an idle worker steals queued tests from a busy one, so
# the few long tests do not leave one core idle at the end). Run it inside the project's
# virtual environment.
#
#   scripts/check.sh            everything: the whole suite, PostgreSQL cases included when
#                               SEATBOT_TEST_POSTGRES_URL is set (what CI runs)
#   scripts/check.sh --fast     the inner loop: lint, types, and every test that needs no
#                               process, no PostgreSQL and no real time (about a minute)
#
# Extra arguments go to pytest. SEATBOT_TEST_WORKERS sets the number of pytest workers
# (default: one per core; 0 runs in this process, for debugging).
set -euo pipefail
cd "$(dirname "$0")/.."
tier=()
if [ "${1:-}" = "--fast" ]; then
    tier=(--fast-tier)
    shift
fi
workers="${SEATBOT_TEST_WORKERS:-auto}"
echo "== ruff check"; python -m ruff check .
echo "== ruff format --check"; python -m ruff format --check .
echo "== mypy --strict"; python -m mypy --strict
echo "== pytest"; python -m pytest -q -n "$workers" --dist worksteal ${tier[@]+"${tier[@]}"} "$@"
