#!/bin/bash
# kill -9 of the daemon at any moment loses no written byte, and the next start commits what
# is on disk; the repository stays sound.
. "$(dirname "$0")/lib-live.sh"
test_init
setup_live

# A writer that records how many bytes write(2) accepted.
cat >"$T/writer.py" <<'PY'
import os, sys
path, log = sys.argv[1], sys.argv[2]
block = bytes(range(256)) * 16
done = 0
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
with open(log, "w") as out:
    try:
        while True:
            n = os.write(fd, block)
            done += n
            out.seek(0); out.write("%d\n" % done); out.flush()
    except OSError as e:
        out.write("# stopped: %s\n" % e)
PY
spawn WPID python3 "$T/writer.py" "$M/nginx/big.conf" "$T/written"
wait_for "the writer has written" 10 bash -c "test -s '$T/written' && test \$(head -n1 '$T/written') -gt 1000000"
kill -KILL "$DAEMON_PID"
wait_for "the writer stops" 10 bash -c "! kill -0 $WPID 2>/dev/null"
fusermount3 -uz "$M" 2>/dev/null
accepted=$(head -n1 "$T/written")
size=$(stat -c %s "$R/etc/nginx/big.conf")
ok "every byte write(2) accepted is in the backing file ($accepted <= $size)" test "$accepted" -le "$size"
ok "and it is the right data" python3 -c "
import sys
data = open('$R/etc/nginx/big.conf', 'rb').read($accepted)
block = bytes(range(256)) * 16
sys.exit(0 if all(data[i:i+4096] == block[:len(data[i:i+4096])] for i in range(0, len(data), 4096)) else 1)"

mount_statefs "$T/statefs.conf" "$M" -o allow_other
ok "after restart the history has the file as it is on disk" \
	bash -c "git --git-dir='$GITDIR' cat-file -p HEAD:nginx/big.conf | cmp - '$R/etc/nginx/big.conf'"
ok "the catch-up commit is marked as found at start-up" bash -c "git --git-dir='$GITDIR' log -1 --format=%B | grep -q 'found at start-up'"

# kill -9 while saves are being committed, several times
for round in 1 2 3; do
	for i in $(seq 1 20); do echo "round $round save $i" >"$M/nginx/save-$i.conf"; done
	sleep 0.$((RANDOM % 3))
	kill -KILL "$DAEMON_PID"
	sleep 0.2
	fusermount3 -uz "$M" 2>/dev/null
	mount_statefs "$T/statefs.conf" "$M" -o allow_other
done
ok "after repeated kills, HEAD holds what is on disk" \
	bash -c "for i in \$(seq 1 20); do test \"\$(git --git-dir='$GITDIR' cat-file -p HEAD:nginx/save-\$i.conf)\" = 'round 3 save '\$i || exit 1; done"
ok "git fsck is clean after kill -9" g fsck --strict --no-progress
