#!/usr/bin/env bash
# Runs the quickstart as two separate processes: the first pauses the agent, the second
# resumes it from S3. Expects the S3_* variables (scripts/local-s3.sh run sets them).
set -euo pipefail
cd "$(dirname "$0")/.."
# the example imports the package by its name, as a user does: build it first
npm run build --silent >/dev/null
npx tsx examples/quickstart.ts start
npx tsx examples/quickstart.ts resume
