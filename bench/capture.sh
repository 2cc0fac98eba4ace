#!/bin/bash
# capture.sh: flashpipe capture of a master stick on a throttled loop device
# against a full-disk copy with the standard tools on the same stick in the
# same run. The master (IMAGE_MIB, default 1024 MiB): an MBR, a 256 MiB FAT32
# partition holding 64 MiB of files from /usr (mcopy) and an ext4 partition
# over the rest holding 192 MiB (mke2fs -d): 25 % used, the free space
# zeros (which flatters the full copy: zeros compress fastest). Read at
# READ_BPS (default 60 MB/s, a USB 2 stick's reads).
#   flashpipe: capture DEV -o OUT --bmap, for each of FORMATS: only what
#     the filesystems use is read; the output is read back and checked;
#   full copy: dd if=DEV iflag=direct bs=4M | COMPRESSOR > OUT (cp for raw),
#     then the output read back once (DECOMPRESSOR | sha256sum), which is
#     what capture's read-back costs it.
# It prints the wall times, flashpipe's speed-up (full copy and read-back
# against capture), its peak RSS and the outputs' size on disk.
#
#   flock /tmp/flashpipe-loop.lock bash bench/capture.sh
#
# Env: IMAGE_MIB (1024), READ_BPS (60000000), FORMATS ("zst gz xz img"),
# WORK (tmpfs dir, default /dev/shm/flashpipe-bench-capture). Needs root,
# losetup, sfdisk, mkfs.fat, mcopy, mke2fs, zstd, pigz, xz, GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE_MIB=${IMAGE_MIB:-1024}
READ_BPS=${READ_BPS:-60000000}
WRITE_BPS=0
FORMATS=${FORMATS:-"zst gz xz img"}
WORK=${WORK:-/dev/shm/flashpipe-bench-capture}
for tool in losetup sfdisk mkfs.fat mcopy mke2fs zstd pigz xz sha256sum /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "missing $tool (util-linux, fdisk, dosfstools, mtools, e2fsprogs, zstd, pigz, xz-utils, coreutils, time)" >&2; exit 1; }
done
. bench/loops.sh
export PATH=$PATH:/usr/local/go/bin
go build -o "$WORK/flashpipe" ./cmd/flashpipe

# The master: made on tmpfs, attached as a throttled loop device.
echo "making a $IMAGE_MIB MiB master, 25 % used" >&2
files() { # files DIR MIB: MIB of files from /usr, copied into DIR
	mkdir -p "$1"
	find /usr/lib /usr/share /usr/bin -type f -size -4M -print0 2>/dev/null | sort -z |
		python3 -c 'import sys, os, shutil
dst, left = sys.argv[1], int(sys.argv[2]) << 20
for i, p in enumerate(sys.stdin.buffer.read().split(b"\0")):
    if not p or left <= 0: continue
    try: n = os.path.getsize(p)
    except OSError: continue
    if n > left: continue
    d = os.path.join(dst, "d%03d" % (i // 200)); os.makedirs(d, exist_ok=True)
    shutil.copyfile(p, os.path.join(d, "f%05d" % i)); left -= n' "$1" "$2"
}
files "$WORK/fat" 64
files "$WORK/ext" 192
MASTER=$WORK/master.img
truncate -s "${IMAGE_MIB}M" "$MASTER"
echo "label: dos
start=2048, size=524288, type=c
start=526336, type=83" | sfdisk -q "$MASTER"
truncate -s 256M "$WORK/fat.vol"
mkfs.fat -F 32 -n MASTER "$WORK/fat.vol" >/dev/null
MTOOLS_SKIP_CHECK=1 mcopy -s -i "$WORK/fat.vol" "$WORK"/fat/* ::/
mke2fs -q -F -t ext4 -d "$WORK/ext" "$WORK/ext.vol" $((IMAGE_MIB - 257))M
dd if="$WORK/fat.vol" of="$MASTER" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$WORK/ext.vol" of="$MASTER" bs=1M seek=257 conv=notrunc,sparse status=none
rm -rf "$WORK/fat" "$WORK/ext" "$WORK/fat.vol" "$WORK/ext.vol"
DEV=$(losetup --find --show --read-only "$MASTER")
LOOPS+=("$DEV")
throttle "$(majmin "$DEV")" 0 "$READ_BPS"
SUM=$(sha256sum "$MASTER" | cut -d' ' -f1)

# timed NAME COMMAND: wall seconds into $R/NAME.t, peak RSS (KiB) into $R/NAME.rss.
R=$WORK/results
mkdir -p "$R"
timed() { /usr/bin/time -f "%e %M" -o "$R/$1.tm" sh -c "$2" >"$R/$1.out" 2>&1 || { cat "$R/$1.out" >&2; exit 1; }; }

echo "master $IMAGE_MIB MiB on $DEV, read at $READ_BPS B/s; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "  %-6s %-24s %9s %9s  %-32s %9s %9s %9s %7s\n" format "flashpipe capture" wall "output" "full copy" "copy" "+read-back" "speed-up" "RSS"
for f in $FORMATS; do
	case $f in
	zst) comp="zstd -q -3 -T0 -c" decomp="zstd -q -d -c" ;;
	gz) comp="pigz -6 -c" decomp="pigz -d -c" ;;
	xz) comp="xz -6 -T0 -c" decomp="xz -d -T0 -c" ;;
	img) comp="" decomp="cat" ;;
	esac
	out=$WORK/cap.img; [ "$f" = img ] || out=$WORK/cap.img.$f
	rm -f "$out" "$WORK"/cap.bmap "$WORK"/cap.img.bmap
	timed "cap-$f" "'$WORK/flashpipe' capture '$DEV' -o '$out' --bmap"
	read -r fw frss <"$R/cap-$f.tm"
	fsize=$(($(stat -c '%b * %B' "$out"))) # on disk: a raw image is sparse
	rm -f "$out" "$WORK"/cap.bmap "$WORK"/cap.img.bmap
	full=$WORK/full.img
	if [ "$f" = img ]; then
		timed "full-$f" "dd if='$DEV' iflag=direct bs=4M status=none | cp --sparse=always /dev/stdin '$full'"
	else
		full=$WORK/full.img.$f
		timed "full-$f" "dd if='$DEV' iflag=direct bs=4M status=none | $comp >'$full'"
	fi
	read -r cw _ <"$R/full-$f.tm"
	timed "back-$f" "$decomp '$full' | sha256sum"
	read -r bw _ <"$R/back-$f.tm"
	rm -f "$full"
	printf "  %-6s %-24s %8ss %8sM  %-32s %8ss %8ss %8sx %5s MB\n" "$f" "-o ${out##*/}" "$fw" "$((fsize / 1048576))" \
		"dd | ${comp:-cp --sparse}" "$cw" "$(awk -v a="$cw" -v b="$bw" 'BEGIN { print a + b }')" \
		"$(awk -v a="$cw" -v b="$bw" -v c="$fw" 'BEGIN { printf "%.1f", (a + b) / c }')" "$((frss / 1024))"
done
[ "$(sha256sum "$MASTER" | cut -d' ' -f1)" = "$SUM" ] || { echo "the master changed during the benchmark" >&2; exit 1; }
grep -h "^copy " "$R/cap-zst.out" "$R"/cap-*.out 2>/dev/null | head -1 | sed 's/^/  flashpipe: /'
