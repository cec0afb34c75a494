#!/usr/bin/env bash
# Installs the Debian packages Hypernova needs (toolchains for the guest, QEMU for comparison,
# nats-server and redis-server, openssl for the cluster CA, the OpenStack clients for the
# end-to-end test). Only what is missing is installed.
set -euo pipefail
pkgs=(gcc-riscv64-unknown-elf gcc-riscv64-linux-gnu linux-source-6.1 bc flex bison cpio rsync
      device-tree-compiler qemu-system-misc qemu-utils nats-server redis-server e2fsprogs
      protobuf-compiler python3-openstackclient python3-novaclient openssl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
