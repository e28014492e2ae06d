#!/usr/bin/env bash
# Everything a clone needs, on Debian: the system packages the service and its tests use when
# they are missing (those of the thumbnailer's image: LibreOffice without its GUI, fonts and
# ffmpeg, from image/debian-packages.txt; bubblewrap, LibreOffice's sandbox here; Chromium for
# the browser tests; tmux for the CLI's terminal test; heif-enc (libheif-examples) to make the
# HEIC test images; GNU time for the benchmarks' process-tree memory; the tools npm ci builds
# Lambda's runtime interface client with), then the npm dependencies from the lock file (they
# bring their own Node 24, which every `npm run …` uses).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t packages < <(grep -v '^#' image/debian-packages.txt)
packages+=(bubblewrap chromium time tmux libheif-examples cmake g++ make python3 xz-utils)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
    missing+=("$package")
done
if ((${#missing[@]})); then
  as_root=()
  [[ $(id -u) == 0 ]] || as_root=(sudo)
  "${as_root[@]}" apt-get update
  "${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
npm ci --no-audit --no-fund
