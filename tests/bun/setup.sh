#!/usr/bin/env bash
# Installs what `bun cli.ts ...`, `bun examples/*.ts` and the Bun suite need in
# a checkout: the npm packages of deno.json's "imports", pinned in
# tests/bun/package.json (bun.lock), into tests/bun/node_modules, each linked
# from ./node_modules so that Bun finds them from every source file. (A
# package.json at the top would make Deno change deno.lock and resolve npm
# packages through node_modules; ./node_modules alone leaves Deno alone.)
#   tests/bun/setup.sh [BUN]      (default: bun on PATH)
set -euo pipefail
BUN=${1:-bun}
case "$BUN" in */*) BUN=$(cd "$(dirname "$BUN")" && pwd)/$(basename "$BUN") ;; esac
cd "$(dirname "$0")/../.."
(cd tests/bun && "$BUN" install --frozen-lockfile --ignore-scripts)
mkdir -p node_modules
for entry in tests/bun/node_modules/* tests/bun/node_modules/.bin; do
  link="node_modules/$(basename "$entry")"
  # Leave a real package folder alone (someone installed it by hand).
  if [ -e "$link" ] && [ ! -L "$link" ]; then continue; fi
  ln -sfn "../$entry" "$link"
done
