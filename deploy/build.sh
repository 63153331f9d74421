#!/bin/sh
# Builds the static laborlink binary and the node image FROM scratch.
#
#   deploy/build.sh            # tags laborlink:dev
#   LABORLINK_IMAGE=registry.example/laborlink:1.0 deploy/build.sh
#
# Needs Go and a Docker daemon; pulls no image.
set -eu

deploy=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$deploy")
image=${LABORLINK_IMAGE:-laborlink:dev}
version=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo dev)

mkdir -p "$deploy/build/data"
cd "$repo"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.Version=$version" -o "$deploy/build/laborlink" ./cmd/laborlink
docker build --quiet --tag "$image" --file "$deploy/Dockerfile" "$deploy" >/dev/null
echo "built $image ($version)"
