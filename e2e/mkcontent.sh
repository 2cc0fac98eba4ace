#!/usr/bin/env bash
# mkcontent.sh DIR writes the e2e test content sets into DIR:
#   docs/   small tree: nested dirs, an empty file, long and UTF-8 names, *.jpg to exclude
#   media/  a few larger files for the exFAT profile
# The 64 MiB set for the unplug scenario is made in the guest (guest/lib.sh).
set -euo pipefail
d=$1
rnd() { head -c "$2" /dev/urandom >"$1"; }
mkdir -p "$d"/docs/guide/deep/nested/dir "$d"/docs/img "$d"/media/music
printf 'flashpipe e2e docs\n' >"$d/docs/README.txt"
for i in 1 2 3; do
	seq 1 $((i * 2000)) | sed "s/^/chapter $i line /" >"$d/docs/guide/chapter$i.txt"
done
printf 'deep\n' >"$d/docs/guide/deep/nested/dir/note.md"
: >"$d/docs/empty.txt"
printf 'long name\n' >"$d/docs/A Long File Name With Spaces And More Than 8.3.txt"
printf 'utf-8 name\n' >"$d/docs/résumé.txt"
rnd "$d/docs/data.bin" 1048576
rnd "$d/docs/img/logo.png" 20000
rnd "$d/docs/img/photo1.jpg" 300000
rnd "$d/docs/cover.jpg" 50000
rnd "$d/media/video.bin" 3145728
rnd "$d/media/music/track01.bin" 500000
printf 'music/track01.bin\n' >"$d/media/playlist.m3u"
