#!/usr/bin/env bash
# Checks what ships: builds, lints the package (publint, arethetypeswrong), packs it, installs
# the tarball into an empty project as a user would, loads it through both entry points and runs
# its command (`npx langgraph-s3 --help` lists every command).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent >/dev/null
npx --no-install publint
npx --no-install attw --pack . --profile node16
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tarball=$(npm pack --silent --pack-destination "$tmp" | tail -1)
cd "$tmp"
npm init -y >/dev/null
npm install --silent --no-audit --no-fund "./$tarball" @langchain/core @langchain/langgraph-checkpoint >/dev/null
cat > esm.mjs <<'JS'
import { S3Checkpointer, isS3CheckpointerError, InvalidOptionError } from "langgraph-checkpoint-s3";
const saver = new S3Checkpointer({ bucket: "b", clientConfig: { region: "us-east-1" } });
try { new S3Checkpointer({ bucket: "" }); } catch (e) { if (!(e instanceof InvalidOptionError) || !isS3CheckpointerError(e)) throw e; }
console.log("esm ok:", saver.getNextVersion(undefined));
JS
cat > cjs.cjs <<'JS'
const { S3Checkpointer } = require("langgraph-checkpoint-s3");
const saver = new S3Checkpointer({ bucket: "b", clientConfig: { region: "us-east-1" } });
console.log("cjs ok:", typeof saver.getTuple);
JS
node esm.mjs
node cjs.cjs
help=$(npx --no-install langgraph-s3 --help)
for command in setup threads history show versions restore delete undelete purge copy prune sweep migrate verify stats; do
  grep -q "^  $command\b" <<<"$help" || { echo "langgraph-s3 --help does not list $command" >&2; exit 1; }
done
echo "bin ok: langgraph-s3 --help lists every command"
# the optional savers are not installed here: migrate names the package to install (exit 2)
set +e
out=$(npx --no-install langgraph-s3 --bucket b migrate --from sqlite:./state.db --to s3://b/p/ 2>&1)
code=$?
set -e
if [ "$code" -ne 2 ] || ! grep -q "npm install @langchain/langgraph-checkpoint-sqlite" <<<"$out"; then
  echo "langgraph-s3 migrate without the SQLite saver: exit $code, $out" >&2
  exit 1
fi
echo "bin ok: migrate without the SQLite saver says what to install"
echo "package check passed: $tarball"
