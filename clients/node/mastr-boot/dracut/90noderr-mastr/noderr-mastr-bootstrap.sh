#!/bin/sh
# dracut pre-pivot hook: the real root is mounted at $NEWROOT. Exit 0 of `mastr bootstrap` = boot.
type die >/dev/null 2>&1 || . /lib/dracut-lib.sh

MASTR_PORT=/dev/ttyACM0
MASTR_TPM=device:/dev/tpmrm0
MASTR_BOOTSTRAP_OPTS=
[ -r /etc/noderr-mastr.conf ] && . /etc/noderr-mastr.conf

i=0
while [ ! -e "$MASTR_PORT" ] && [ "$i" -lt 20 ]; do
	sleep 0.5
	i=$((i + 1))
done

# shellcheck disable=SC2086 # MASTR_BOOTSTRAP_OPTS is a list of options
if ! /usr/bin/node /usr/lib/noderr-mastr/noderr-agent.mjs mastr bootstrap \
	--port "$MASTR_PORT" --tpm "$MASTR_TPM" --root "${NEWROOT:?}" $MASTR_BOOTSTRAP_OPTS; then
	die "MASTR: the token did not attest this host; boot halted (reason above)"
fi
