#!/usr/bin/env bash
# A longer Schemathesis run than the test suite's (FUZZ_MAX_EXAMPLES, default 200 per
# operation), through the same test: a live server, an authenticated user, every operation.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-200}" make test PYTEST_ARGS="-q -s tests/test_fuzz.py"
