#!/bin/sh
# hook-corrupt.sh DEVPATH: flashpipe's FLASHPIPE_TEST_BEFORE_VERIFY hook for
# scenario 7. Overwrites 16 bytes of the stick's backing file
# ($E2E_CORRUPT_IMG) at $FLASHPIPE_TEST_FILE_OFFSET, the first file's first
# bytes on the device, so the read-back must differ. Logs to $E2E_HOOK_LOG.
log=${E2E_HOOK_LOG:-/dev/console}
{
	echo "dev=$1"
	echo "path=$FLASHPIPE_TEST_FILE_PATH"
	echo "offset=$FLASHPIPE_TEST_FILE_OFFSET"
} >>"$log"
off=$FLASHPIPE_TEST_FILE_OFFSET
if [ -z "$off" ] || [ -z "$E2E_CORRUPT_IMG" ] || [ ! -f "$E2E_CORRUPT_IMG" ]; then
	echo "not corrupting: offset='$off' image='$E2E_CORRUPT_IMG'" >>"$log"
	exit 0
fi
before=$(dd if="$E2E_CORRUPT_IMG" bs=1 skip="$off" count=16 2>/dev/null | od -An -tx1 | tr -d ' \n')
printf 'E2E-CORRUPTION!!' | dd of="$E2E_CORRUPT_IMG" bs=1 seek="$off" conv=notrunc 2>/dev/null
after=$(dd if="$E2E_CORRUPT_IMG" bs=1 skip="$off" count=16 2>/dev/null | od -An -tx1 | tr -d ' \n')
echo "corrupted $E2E_CORRUPT_IMG at $off: $before -> $after" >>"$log"
