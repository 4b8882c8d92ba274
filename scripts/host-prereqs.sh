#!/usr/bin/env bash
# Host prerequisites of NovaCron, checked (and on Debian/Ubuntu as root, installed) idempotently.
#   scripts/host-prereqs.sh                 what `novacron up` needs
#   scripts/host-prereqs.sh --with-test-deps  plus what the test suite needs
#   scripts/host-prereqs.sh --with-bench-deps plus what the benchmarks need (wrk)
set -euo pipefail

# command -> Debian package
declare -A needed=(
  [qemu-system-x86_64]=qemu-system-x86
  [qemu-img]=qemu-utils
  [genisoimage]=genisoimage
  [dpkg-deb]=dpkg
  [xz]=xz-utils
  [gzip]=gzip
  # The VM network: bridge and tap devices, DHCP, optional NAT.
  [ip]=iproute2
  [dnsmasq]=dnsmasq-base
  [iptables]=iptables
)
if [[ "${1:-}" == "--with-test-deps" ]]; then
  needed[ip]=iproute2
  # The dashboard's browser tests drive Debian's Chromium through playwright-core.
  needed[chromium]=chromium
  # The guest-os tier builds a Debian image with cloud-init (debootstrap, mkfs.ext4 -d) and
  # reads seed ISOs (isoinfo); the import tests make OVAs with tar.
  needed[debootstrap]=debootstrap
  needed[mkfs.ext4]=e2fsprogs
  needed[isoinfo]=genisoimage
  needed[tar]=tar
fi
if [[ "${1:-}" == "--with-bench-deps" ]]; then
  needed[wrk]=wrk
fi

missing=()
for cmd in "${!needed[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${needed[$cmd]}")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
install_cmd="apt-get install -y --no-install-recommends ${packages[*]}"

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "novacron: installing host prerequisites: ${packages[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  exit 0
fi

echo "novacron: missing host prerequisites: ${packages[*]}" >&2
echo "novacron: install them with:  sudo $install_cmd" >&2
exit 1
