#!/usr/bin/env bash
# Builds the Hypernova guest's root filesystem image: an ext2 file system made with
# `mkfs.ext2 -d` (e2fsprogs; no root privileges, no loop mount) holding the guest's init
# as /sbin/init and the test programs in /bin, for a kernel booted with
# `root=/dev/vda rw rdinit=/none` (see guest/init/README.md).
#
# Usage: build-rootfs.sh OUT_DIR BIN_DIR
#   OUT_DIR  gets rootfs.ext2; it appears complete or not at all (built aside, renamed)
#   BIN_DIR  the programs of a Linux guest build (ensureLinuxGuest().dir/bin)
#
# The image is reproducible: fixed UUID, hash seed and timestamps, so the same programs
# give the same bytes (and a base image's hash means something).
set -euo pipefail
# Debian keeps mkfs.ext2 and e2fsck in /sbin, off a normal user's PATH.
export PATH=$PATH:/usr/sbin:/sbin

out=$1
bin=$2
size=${HN_ROOTFS_SIZE:-32M}
# Any fixed values do; these only make the image reproducible.
uuid=6e6f7661-6879-7065-726e-6f7661000001
epoch=1700000000

tmp=$out.tmp
rm -rf "$tmp"
tree=$tmp/tree
mkdir -p "$tree"/{bin,sbin,dev,proc,sys,tmp,data}
# /data: where tests write their files (any writable directory would do; a fixed one
# keeps the command lines short).
cp "$bin/init" "$tree/sbin/init"
for program in "$bin"/*; do
  [ "$(basename "$program")" = init ] || cp "$program" "$tree/bin/"
done
chmod 0755 "$tree"/bin/* "$tree/sbin/init"
chmod 1777 "$tree/tmp"
find "$tree" -exec touch -h -d "@$epoch" {} +

# 4 KiB blocks (what the guest's page cache writes), no reserved blocks, few inodes.
E2FSPROGS_FAKE_TIME=$epoch mkfs.ext2 -q -F -t ext2 -b 4096 -m 0 -N 256 -L hn-root \
  -U "$uuid" -E "hash_seed=$uuid,root_owner=0:0" -d "$tree" "$tmp/rootfs.ext2" "$size" >/dev/null
# mkfs copies each inode's ctime from the host file, which touch cannot set.
(cd "$tree" && find . -mindepth 1 | sed "s|^\.\(.*\)|sif \1 ctime @$epoch|") >"$tmp/ctime.cmds"
E2FSPROGS_FAKE_TIME=$epoch debugfs -w -f "$tmp/ctime.cmds" "$tmp/rootfs.ext2" >/dev/null 2>&1
check=$(e2fsck -fn "$tmp/rootfs.ext2" 2>&1) || { echo "$check" >&2; exit 1; }

rm -rf "$tree" "$tmp/ctime.cmds" "$out"
mv "$tmp" "$out"
echo "guest: rootfs done: $out" >&2
