#!/usr/bin/env bash
# Runs examples/share-state.ts as two processes: the first shares a paused agent's state and
# prints the URL; the second, with every S3 and AWS credential removed from its environment,
# imports the URL into a MemorySaver and finishes the run. Expects the S3_* variables of the
# sharing side (scripts/local-s3.sh run sets them).
set -euo pipefail
cd "$(dirname "$0")/.."
url=$(npx tsx examples/share-state.ts share | tail -n 1)
env -u S3_ENDPOINT -u S3_ACCESS_KEY_ID -u S3_SECRET_ACCESS_KEY -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
  SHARE_URL="$url" npx tsx examples/share-state.ts receive
