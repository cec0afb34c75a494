#!/usr/bin/env bash
# Builds the Hypernova Linux guest from Debian's linux-source-6.1 and cross compiler:
# the programs in guest/init (one per *.c, with the kernel's own nolibc), an initramfs
# listed by guest/init/initramfs.list, and an rv32 kernel Image configured by
# rv32_defconfig + guest/kernel/hypernova.config with that initramfs built in.
#
# Usage: build-kernel.sh OUT_DIR WORK_DIR
#   OUT_DIR   gets Image, vmlinux, config and bin/ (the programs); it appears complete
#             or not at all (built aside, then renamed).
#   WORK_DIR  the source tree and object files, kept for incremental rebuilds. Its
#             contents belong to one kernel source version: callers name it after it,
#             and run one build per WORK_DIR at a time (guest/src/index.ts locks).
set -euo pipefail

out=$1
work=$2
guest=$(cd "$(dirname "$0")" && pwd)
tarball=/usr/src/linux-source-6.1.tar.xz
src=$work/linux
obj=$work/obj
sysroot=$work/sysroot
export ARCH=riscv CROSS_COMPILE=riscv64-linux-gnu-
# initramfs.list names the programs as ${HN_BIN}/<name>.
export HN_BIN=$work/bin
log() { echo "guest: $*" >&2; }

mkdir -p "$work"
if [ ! -e "$src/Makefile" ]; then
  log "extracting $tarball"
  rm -rf "$src" "$src.tmp"
  mkdir -p "$src.tmp"
  tar -xf "$tarball" -C "$src.tmp" --strip-components=1
  mv "$src.tmp" "$src"
fi

# nolibc programs compile against the kernel's UAPI headers.
if [ ! -e "$sysroot/include/linux/version.h" ]; then
  log "installing UAPI headers"
  make -s -C "$src" O="$obj" headers_install INSTALL_HDR_PATH="$sysroot"
fi

log "compiling guest programs"
rm -rf "$HN_BIN"
mkdir -p "$HN_BIN"
for program in "$guest"/init/*.c; do
  riscv64-linux-gnu-gcc -march=rv32imac -mabi=ilp32 -Os -Wall -Wextra -Werror \
    -nostdlib -static -ffreestanding -fno-asynchronous-unwind-tables -s \
    -I "$src/tools/include/nolibc" -I "$sysroot/include" \
    -o "$HN_BIN/$(basename "$program" .c)" "$program"
done

# Configure from scratch every time: merging onto an already resolved .config after
# turning MODULES off would turn every =m of defconfig into =y.
log "configuring"
fragment=$guest/kernel/hypernova.config
printf 'CONFIG_INITRAMFS_SOURCE="%s"\n' "$guest/init/initramfs.list" >"$work/initramfs.config"
rm -f "$obj/.config"
(cd "$src" && scripts/kconfig/merge_config.sh -O "$obj" \
  arch/riscv/configs/defconfig arch/riscv/configs/32-bit.config \
  "$fragment" "$work/initramfs.config") >"$work/merge_config.log"
# merge_config only warns when a value does not take (a missing dependency, a renamed
# symbol); for our own fragment that is an error, so the fragment stays the truth.
bad=0
while read -r line; do
  case $line in
    CONFIG_*) grep -qxF "$line" "$obj/.config" || { log "not applied: $line"; bad=1; } ;;
    "# CONFIG_"*" is not set")
      symbol=${line#\# }
      symbol=${symbol% is not set}
      ! grep -q "^$symbol=" "$obj/.config" || { log "not applied: $line"; bad=1; } ;;
  esac
done <"$fragment"
[ $bad = 0 ] || exit 1

log "building the kernel (make -j${HN_JOBS:-2} Image; several minutes when clean)"
make -s -C "$src" O="$obj" -j"${HN_JOBS:-2}" Image

rm -rf "$out.tmp"
mkdir -p "$out.tmp"
cp "$obj/arch/riscv/boot/Image" "$obj/vmlinux" "$out.tmp/"
cp "$obj/.config" "$out.tmp/config"
cp -r "$HN_BIN" "$out.tmp/bin"
rm -rf "$out"
mv "$out.tmp" "$out"
log "done: $out"
