#!/usr/bin/env bash
# Regenerates proto/src/gen from proto/defs/**/*.proto with protoc (Debian's protobuf-compiler)
# and ts-proto. With --check it generates into a temp dir instead and fails when the committed
# code differs, so CI catches a .proto edited without regenerating.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
plugin="$(cd "$here" && node -e "process.stdout.write(require.resolve('ts-proto/protoc-gen-ts_proto'))")"
command -v protoc >/dev/null || { echo "protoc not found: run scripts/install-deps.sh (Debian protobuf-compiler)" >&2; exit 1; }

opts="outputServices=grpc-js,esModuleInterop=true,importSuffix=.js,env=node,useExactTypes=false"
opts+=",forceLong=number,exportCommonSymbols=false,useOptionals=none"

check=false
out="$here/src/gen"
if [ "${1:-}" = "--check" ]; then
  check=true
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
else
  rm -rf "$out"
  mkdir -p "$out"
fi

cd "$here/defs"
mapfile -t files < <(find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)
protoc --plugin=protoc-gen-ts_proto="$plugin" --ts_proto_out="$out" --ts_proto_opt="$opts" "${files[@]}"

if $check; then
  # The header names protoc's version; another protoc release generating the same code is fine.
  if ! diff -r -I '^//   protoc  ' "$here/src/gen" "$out"; then
    echo "proto/src/gen is stale: run 'npm run proto:gen' and commit the result" >&2
    exit 1
  fi
  echo "proto/src/gen is up to date"
fi
