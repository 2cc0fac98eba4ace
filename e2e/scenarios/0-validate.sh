# 0-validate: every e2e profile passes `flashpipe validate`.
for f in /e2e/profiles/*.hcl; do
	flashpipe validate "$f" >"$W/validate.log" 2>&1 || {
		while IFS= read -r l; do info "$l"; done <"$W/validate.log"
		fail "flashpipe validate $f exited $?"
	}
done
pass
