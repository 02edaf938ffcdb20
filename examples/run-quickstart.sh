#!/usr/bin/env bash
# Runs the quickstart as two separate processes: the first pauses the agent, the second
# resumes it from S3. Expects the S3_* variables (scripts/local-s3.sh run sets them).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsx examples/quickstart.ts start
npx tsx examples/quickstart.ts resume
