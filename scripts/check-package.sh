#!/usr/bin/env bash
# Checks what ships: builds, lints the package (publint, arethetypeswrong), packs it, installs
# the tarball into an empty project as a user would, and loads it through both entry points.
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
echo "package check passed: $tarball"
