#!/bin/sh
# Installs the qwenauth binary for this machine from a GitHub release.
#
#   curl -fsSL https://raw.githubusercontent.com/qwenauth/qwenauth/main/install.sh | sh
#   sh install.sh --version v0.1.0 --dir /usr/local/bin
#
# Options:
#   --version vX.Y.Z   a named release instead of the latest
#   --dir DIR          where to put `qwenauth` (default: $QWENAUTH_INSTALL_DIR or ~/.local/bin)
# Environment:
#   QWENAUTH_REPO              owner/name of the GitHub repository (default: qwenauth/qwenauth)
#   QWENAUTH_INSTALL_BASE_URL  download base instead of https://github.com/$QWENAUTH_REPO/releases;
#                              assets are fetched from BASE/latest/download/ASSET or
#                              BASE/download/VERSION/ASSET (a mirror or a local test server)
#
# The binary is checked against the release's sha256sums.txt before it is moved into place;
# on a mismatch nothing is installed and the script exits non-zero.
set -eu

QWENAUTH_REPO="${QWENAUTH_REPO:-qwenauth/qwenauth}"
SUMS_FILE=sha256sums.txt

say() { printf 'qwenauth install: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

usage() {
  cat >&2 <<'USAGE'
usage: install.sh [--version vX.Y.Z] [--dir DIR]
  --version  install a named release instead of the latest
  --dir      install directory (default: $QWENAUTH_INSTALL_DIR or ~/.local/bin)
environment: QWENAUTH_REPO (owner/name, default qwenauth/qwenauth),
             QWENAUTH_INSTALL_BASE_URL (download base instead of GitHub releases)
USAGE
}

version=latest
dir="${QWENAUTH_INSTALL_DIR:-${HOME:-}/.local/bin}"
while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || die "--version needs a value, e.g. --version v0.1.0"; version=$2; shift 2 ;;
    --version=*) version=${1#--version=}; shift ;;
    --dir) [ $# -ge 2 ] || die "--dir needs a directory"; dir=$2; shift 2 ;;
    --dir=*) dir=${1#--dir=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option: $1 (use --version vX.Y.Z and/or --dir DIR)" ;;
  esac
done
[ -n "$dir" ] || die "no install directory: pass --dir DIR (HOME is not set)"
case "$version" in
  latest|v*) ;;
  *) version="v$version" ;;
esac

# --- which asset fits this machine -------------------------------------------------------------
is_musl() {
  if command -v ldd >/dev/null 2>&1 && ldd --version 2>&1 | grep -qi musl; then return 0; fi
  # No (musl-reporting) ldd: a musl loader without a glibc one means a musl system (Alpine).
  ls /lib/ld-musl-*.so.1 >/dev/null 2>&1 && ! ls /lib*/ld-linux-*.so.* >/dev/null 2>&1
}

os=$(uname -s)
arch=$(uname -m)
case "$os" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  MINGW*|MSYS*|CYGWIN*) os=windows ;;
  *) die "no qwenauth binary for $os; use the npm package instead: npx qwenauth" ;;
esac
case "$arch" in
  x86_64|amd64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) die "no qwenauth binary for $arch; use the npm package instead: npx qwenauth" ;;
esac
# An x64 shell under Rosetta on an Apple-silicon Mac: the native binary is the better one.
if [ "$os" = darwin ] && [ "$arch" = x64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)" = 1 ]; then
  arch=arm64
fi
asset="qwenauth-$os-$arch"
[ "$os" = linux ] && is_musl && asset="$asset-musl"
exe=qwenauth
if [ "$os" = windows ]; then
  [ "$arch" = x64 ] || die "no qwenauth binary for windows-$arch"
  asset="$asset.exe"
  exe=qwenauth.exe
fi

base="${QWENAUTH_INSTALL_BASE_URL:-https://github.com/$QWENAUTH_REPO/releases}"
base=${base%/}
if [ "$version" = latest ]; then url="$base/latest/download"; else url="$base/download/$version"; fi

# --- download into a private temp dir, verify, then move into place ----------------------------
download() { # URL FILE
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 2 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    die "need curl or wget to download"
  fi
}

# Chosen before downloading: an unverified binary is never installed.
if command -v sha256sum >/dev/null 2>&1; then
  sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256_of() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
  die "need sha256sum or shasum to verify the download"
fi

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t qwenauth)
staged=""
cleanup() { rm -rf "$tmp"; [ -z "$staged" ] || rm -f "$staged"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "downloading $asset ($version) from $url"
download "$url/$SUMS_FILE" "$tmp/$SUMS_FILE" || die "could not download $url/$SUMS_FILE (is $version a qwenauth release?)"
download "$url/$asset" "$tmp/$asset" || die "could not download $url/$asset (is there a $asset build in $version?)"

# sha256sum lines are "HASH  NAME" (or "HASH *NAME" in binary mode).
expected=$(awk -v a="$asset" '$2 == a || $2 == "*" a { print $1; exit }' "$tmp/$SUMS_FILE")
[ -n "$expected" ] || die "$SUMS_FILE has no line for $asset; nothing was installed"
actual=$(sha256_of "$tmp/$asset")
if [ "$actual" != "$expected" ]; then
  die "checksum mismatch for $asset (expected $expected, got $actual); nothing was installed"
fi

mkdir -p "$dir" || die "cannot create $dir"
# Copy next to the target first, then rename: the rename is atomic, so $dir never holds a
# half-written qwenauth, and a running old binary is not overwritten in place.
staged="$dir/.$exe.install.$$"
cp "$tmp/$asset" "$staged" || die "cannot write to $dir"
chmod 755 "$staged"
mv -f "$staged" "$dir/$exe" || die "cannot move the binary into $dir"
staged=""

installed=$("$dir/$exe" --version 2>/dev/null) || installed=""
if [ -n "$installed" ]; then
  say "installed qwenauth $installed to $dir/$exe"
else
  say "installed $dir/$exe, but it did not run here (\`$dir/$exe --version\` failed)"
  case "$asset" in
    *-musl) say "the musl build needs the C++ runtime; on Alpine: apk add libstdc++ libgcc" ;;
  esac
fi
case ":${PATH:-}:" in
  *":$dir:"*) ;;
  *) say "$dir is not on your PATH; add it, e.g.: export PATH=\"$dir:\$PATH\"" ;;
esac
