#!/usr/bin/env bash
# mkimage.sh DIR builds, on the host, the disk image of scenario 13-image,
# laid out as Raspberry Pi OS ships one: an MBR with a FAT32 boot partition
# (type c) and an ext4 root partition (type 83). It writes into DIR:
#   pi.img         the raw image, sparse (kept on the host, not staged)
#   pi.img.xz      it compressed with xz -T0 (several blocks)
#   pi.img.bmap    its block map by bmaptool create: only the blocks mkfs
#                  and the content wrote are mapped, so it maps less than
#                  the image (bmap = "auto" finds it next to pi.img.xz)
#   pi.img.sha256  the raw image's SHA-256 (what receipts must record)
#   boot/ root/    the trees the guest must read back from each partition
#                  (root/ with the lost+found that mke2fs adds)
#   layout         "IMAGE_BYTES BOOT_START_MIB ROOT_START_MIB" for the guest
set -euo pipefail
d=$1
rm -rf "$d"
mkdir -p "$d/boot/overlays" "$d/root/etc" "$d/root/usr/bin" "$d/root/usr/lib/firmware" \
	"$d/root/home/pi/Documents/deep/er" "$d/root/var/log"
rnd() { head -c "$2" /dev/urandom >"$1"; }

# boot: what the firmware reads. FAT32, so 8.3 and long names.
printf 'arm_64bit=1\ndtoverlay=vc4-kms-v3d\n' >"$d/boot/config.txt"
printf 'console=serial0,115200 root=PARTUUID=e2e00000-02 rootfstype=ext4 rootwait\n' >"$d/boot/cmdline.txt"
rnd "$d/boot/kernel8.img" 2097152
rnd "$d/boot/start4.elf" 700000
rnd "$d/boot/overlays/vc4-kms-v3d.dtbo" 3000
rnd "$d/boot/overlays/disable-bt.dtbo" 1200
seq 1 3000 | sed 's/^/licence line /' >"$d/boot/LICENCE.broadcom"
printf 'issue\n' >"$d/boot/A long boot file name.txt"

# root: a small system tree, with an empty file and a symlink.
printf 'raspberrypi\n' >"$d/root/etc/hostname"
printf 'proc /proc proc defaults 0 0\nPARTUUID=e2e00000-01 /boot vfat defaults 0 2\n' >"$d/root/etc/fstab"
rnd "$d/root/usr/bin/busybox" 1100000
rnd "$d/root/usr/lib/firmware/blob.bin" 3145728
seq 1 20000 | sed 's/^/log line /' >"$d/root/var/log/messages"
printf 'notes\n' >"$d/root/home/pi/Documents/deep/er/notes.md"
: >"$d/root/home/pi/.hushlogin"
ln -s usr/bin "$d/root/bin"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mib=1048576
boot_start=1 boot_mib=40 root_start=41 root_mib=55
size=$(((root_start + root_mib) * mib))

# FAT32 with 512-byte clusters (40 MiB is too small for FAT32's default).
mkfs.fat -F 32 -s 1 -n BOOT -i e2e0b007 -C "$t/boot.part" $((boot_mib * 1024)) >/dev/null
MTOOLS_SKIP_CHECK=1 mcopy -s -Q -i "$t/boot.part" "$d"/boot/* ::/
mke2fs -q -t ext4 -L rootfs -U e2e00000-0000-4000-8000-00000000e2e0 -d "$d/root" "$t/root.part" "${root_mib}M" >/dev/null
mkdir -p "$d/root/lost+found"

truncate -s "$size" "$d/pi.img"
sfdisk -q "$d/pi.img" <<EOF
label: dos
label-id: 0xe2e00000
start=$((boot_start * 2048)), size=$((boot_mib * 2048)), type=c
start=$((root_start * 2048)), size=$((root_mib * 2048)), type=83
EOF
dd if="$t/boot.part" of="$d/pi.img" bs=1M seek=$boot_start conv=sparse,notrunc status=none
dd if="$t/root.part" of="$d/pi.img" bs=1M seek=$root_start conv=sparse,notrunc status=none

bmaptool -q create -o "$d/pi.img.bmap" "$d/pi.img"
xz -T0 -k -c "$d/pi.img" >"$d/pi.img.xz"
sha256sum "$d/pi.img" | cut -d' ' -f1 >"$d/pi.img.sha256"
echo "$size $boot_start $root_start" >"$d/layout"
mapped=$(sed -n 's:.*<MappedBlocksCount> *\([0-9]*\) *</MappedBlocksCount>.*:\1:p' "$d/pi.img.bmap")
[ -n "$mapped" ] && [ $((mapped * 4096)) -lt "$size" ] ||
	{ echo "mkimage: the bmap maps $mapped blocks of 4 KiB, want fewer than the image's $size bytes" >&2; exit 1; }
