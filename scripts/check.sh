#!/usr/bin/env bash
# Runs every check the project requires before a commit: ruff (lint + format), mypy --strict, pytest.
# Run it inside the project's virtual environment. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== ruff check"; python -m ruff check .
echo "== ruff format --check"; python -m ruff format --check .
echo "== mypy --strict"; python -m mypy --strict
echo "== pytest"; python -m pytest -q "$@"
