#!/usr/bin/env bash
# Builds a release of the provider and lays it out the way a provider registry, Terraform's (and
# OpenTofu's) filesystem mirror and their network mirror protocol expect:
#
#   OUT/VERSION/terraform-provider-crdb_VERSION_OS_ARCH.zip    one per platform, holding terraform-provider-crdb_vVERSION
#   OUT/VERSION/terraform-provider-crdb_VERSION_manifest.json  terraform-registry-manifest.json (protocol versions)
#   OUT/VERSION/terraform-provider-crdb_VERSION_SHA256SUMS     the zips and the manifest
#   OUT/VERSION/terraform-provider-crdb_VERSION_SHA256SUMS.sig detached GPG signature of it
#   OUT/VERSION/signing-key.asc                                 the public key a registry is given
#   OUT/filesystem-mirror/HOST/crdb/crdb/<zip>                  packed layout, for provider_installation.filesystem_mirror
#   OUT/network-mirror/HOST/crdb/crdb/{index.json,VERSION.json,<zip>}  for provider_installation.network_mirror
#
# HOST is registry.terraform.io and registry.opentofu.org: `source = "crdb/crdb"` means the first
# to Terraform and the second to OpenTofu. The mirrors' index.json lists every version laid out in OUT.
#
# Usage: scripts/release.sh [--out DIR] [--key KEYID] [--prebuilt BINARY] VERSION
#   --key       the GPG key that signs SHA256SUMS (default: $RELEASE_GPG_KEY), in the caller's
#               GNUPGHOME; a release is never laid out unsigned.
#   --prebuilt  lay out this already-built binary as linux_amd64 instead of building: for the
#               acceptance test, which packs its debug build; a real release builds with the
#               release profile.
set -euo pipefail
cd "$(dirname "$0")/.."

NAME=terraform-provider-crdb
HOSTS=(registry.terraform.io registry.opentofu.org)
NAMESPACE=crdb
TYPE=crdb
# Terraform's platform -> the Rust target triple, the C cross compiler Debian ships for it ("-" when
# the package registries have none), and the executable's suffix.
PLATFORMS=(
  "linux_amd64   x86_64-unknown-linux-gnu       -                      "
  "linux_arm64   aarch64-unknown-linux-gnu      aarch64-linux-gnu-gcc  "
  "linux_arm     armv7-unknown-linux-gnueabihf  arm-linux-gnueabihf-gcc"
  "linux_386     i686-unknown-linux-gnu         i686-linux-gnu-gcc     "
  "windows_amd64 x86_64-pc-windows-gnu          x86_64-w64-mingw32-gcc .exe"
  "darwin_amd64  x86_64-apple-darwin            -                      "
  "darwin_arm64  aarch64-apple-darwin           -                      "
)

fail() {
  echo "release: $*" >&2
  exit 1
}

out=dist
key=${RELEASE_GPG_KEY:-}
prebuilt=
version=
while (($#)); do
  case "$1" in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --key) key=${2:?--key needs a key id}; shift 2 ;;
    --prebuilt) prebuilt=${2:?--prebuilt needs a binary}; shift 2 ;;
    -*) fail "unknown option $1 (usage: scripts/release.sh [--out DIR] [--key KEYID] [--prebuilt BINARY] VERSION)" ;;
    *) [[ -z $version ]] || fail "one VERSION only, got '$version' and '$1'"; version=$1; shift ;;
  esac
done
[[ -n $version ]] || fail "usage: scripts/release.sh [--out DIR] [--key KEYID] [--prebuilt BINARY] VERSION"
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] ||
  fail "VERSION '$version' is not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE], no leading v)"
cargo_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
[[ $cargo_version == "$version" ]] ||
  fail "Cargo.toml says version $cargo_version, not $version: the binary reports Cargo's version, so bump Cargo.toml first"
[[ -n $key ]] || fail "no signing key: pass --key KEYID or set RELEASE_GPG_KEY (Terraform refuses an unsigned registry release)"
if [[ -n $prebuilt && ! -x $prebuilt ]]; then
  fail "--prebuilt $prebuilt is not an executable file"
fi

if ! command -v gpg >/dev/null; then
  echo "release: installing gnupg (Debian) to sign SHA256SUMS"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnupg >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnupg >/dev/null; } ||
    fail "gnupg is missing and apt-get could not install it"
fi
for tool in zip python3 sha256sum; do
  command -v "$tool" >/dev/null || fail "$tool is needed to lay out the release and is not on PATH"
done
gpg --batch --list-secret-keys "$key" >/dev/null 2>&1 ||
  fail "no secret key '$key' in ${GNUPGHOME:-~/.gnupg}: SHA256SUMS cannot be signed"

mkdir -p "$out"
out=$(cd "$out" && pwd)
release_dir=$out/$version
rm -rf "$release_dir"
mkdir -p "$release_dir"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# Zip entries carry a modification time: the last commit's makes the archives, and so their
# hashes, reproducible from the same tree.
epoch=$(git log -1 --format=%ct 2>/dev/null || date +%s)

# Packs one binary as the registry names it; the zip's only entry is terraform-provider-crdb_vVERSION.
pack() {
  local platform=$1 binary=$2 suffix=$3
  local entry=${NAME}_v${version}${suffix}
  mkdir -p "$stage/$platform"
  cp "$binary" "$stage/$platform/$entry"
  chmod 0755 "$stage/$platform/$entry"
  touch -d "@$epoch" "$stage/$platform/$entry"
  (cd "$stage/$platform" && TZ=UTC zip -X -q "$release_dir/${NAME}_${version}_${platform}.zip" "$entry")
  echo "release: $platform packed"
}

sysroot=$(rustc --print sysroot)
skipped=()
for row in "${PLATFORMS[@]}"; do
  read -r platform triple linker suffix <<<"$row"
  if [[ -n $prebuilt ]]; then
    [[ $platform == linux_amd64 ]] && pack "$platform" "$prebuilt" ""
    continue
  fi
  if [[ ! -d $sysroot/lib/rustlib/$triple/lib ]]; then
    skipped+=("$platform: no Rust standard library for $triple in this toolchain; only rustup ships one, from outside the package registries (Debian's libstd-rust packages are for its rustc 1.63, older than this crate's rust-version)")
    continue
  fi
  env_prefix=$(echo "$triple" | tr 'a-z-' 'A-Z_')
  build_env=()
  if [[ $linker != - ]]; then
    command -v "$linker" >/dev/null ||
      { skipped+=("$platform: the linker $linker is not installed (Debian package gcc-${linker%-gcc}, or mingw-w64 for Windows)"); continue; }
    build_env=("CARGO_TARGET_${env_prefix}_LINKER=$linker" "CC_${triple//-/_}=$linker")
  elif [[ $platform == darwin_* ]]; then
    skipped+=("$platform: no macOS linker and SDK are packaged in the registries this project may use")
    continue
  fi
  echo "release: building $platform ($triple, release profile)"
  env "${build_env[@]}" cargo build --release --locked --quiet --target "$triple" --bin "$NAME"
  pack "$platform" "target/$triple/release/$NAME$suffix" "$suffix"
done

cp terraform-registry-manifest.json "$release_dir/${NAME}_${version}_manifest.json"
(cd "$release_dir" && sha256sum ./*.zip "${NAME}_${version}_manifest.json" | sed 's# \./# #' |
  sort -k 2 >"${NAME}_${version}_SHA256SUMS")
gpg --batch --yes --local-user "$key" --detach-sign \
  --output "$release_dir/${NAME}_${version}_SHA256SUMS.sig" "$release_dir/${NAME}_${version}_SHA256SUMS"
gpg --batch --verify "$release_dir/${NAME}_${version}_SHA256SUMS.sig" "$release_dir/${NAME}_${version}_SHA256SUMS" 2>/dev/null ||
  fail "the signature just made does not verify"
gpg --batch --armor --export "$key" >"$release_dir/signing-key.asc"

# The mirrors. h1: is Terraform's hash of the package's contents (golang.org/x/mod/sumdb/dirhash
# Hash1 over the zip's entries: sha256 of the lines "<hex sha256>  <name>\n", sorted by name,
# base64); zh: is the sha256 of the zip itself, what SHA256SUMS says. `terraform init` checks a
# downloaded package against these, and records them in .terraform.lock.hcl.
for host in "${HOSTS[@]}"; do
  fs_dir=$out/filesystem-mirror/$host/$NAMESPACE/$TYPE
  net_dir=$out/network-mirror/$host/$NAMESPACE/$TYPE
  mkdir -p "$fs_dir" "$net_dir"
  rm -f "$fs_dir/${NAME}_${version}_"*.zip "$net_dir/${NAME}_${version}_"*.zip
  cp "$release_dir/${NAME}_${version}_"*.zip "$fs_dir/"
  cp "$release_dir/${NAME}_${version}_"*.zip "$net_dir/"
  python3 - "$net_dir" "$version" "$NAME" <<'PY'
import base64, hashlib, json, os, sys, zipfile

net_dir, version, name = sys.argv[1:]
prefix = f"{name}_{version}_"
archives = {}
for file in sorted(os.listdir(net_dir)):
    if not (file.startswith(prefix) and file.endswith(".zip")):
        continue
    path = os.path.join(net_dir, file)
    with zipfile.ZipFile(path) as archive:
        lines = "".join(
            f"{hashlib.sha256(archive.read(entry)).hexdigest()}  {entry}\n"
            for entry in sorted(archive.namelist())
        )
    h1 = "h1:" + base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode()
    with open(path, "rb") as f:
        zh = "zh:" + hashlib.sha256(f.read()).hexdigest()
    platform = file[len(prefix):-len(".zip")]
    archives[platform] = {"url": file, "hashes": [h1, zh]}
with open(os.path.join(net_dir, f"{version}.json"), "w") as f:
    json.dump({"archives": archives}, f, indent=2, sort_keys=True)
    f.write("\n")
versions = sorted(file[:-len(".json")] for file in os.listdir(net_dir)
                  if file.endswith(".json") and file != "index.json")
with open(os.path.join(net_dir, "index.json"), "w") as f:
    json.dump({"versions": {v: {} for v in versions}}, f, indent=2)
    f.write("\n")
PY
done

echo "release: $version laid out in $out"
(cd "$release_dir" && sed 's/^/  /' "${NAME}_${version}_SHA256SUMS")
for reason in "${skipped[@]}"; do
  echo "release: not built: $reason"
done
