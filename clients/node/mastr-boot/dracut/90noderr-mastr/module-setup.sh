#!/bin/bash
# dracut module: node, the noderr-agent bundle, stty and the MASTR config, plus the pre-pivot gate.
# Install the directory as /usr/lib/dracut/modules.d/90noderr-mastr, then: dracut -f

check() {
	[ -f /usr/local/lib/noderr-agent/noderr-agent.mjs ] && require_binaries node stty || return 1
	return 0
}

depends() {
	return 0
}

installkernel() {
	instmods cdc_acm tpm_crb tpm_tis
}

install() {
	inst_binary "$(command -v node)" /usr/bin/node
	inst_binary stty
	inst_simple /usr/local/lib/noderr-agent/noderr-agent.mjs /usr/lib/noderr-mastr/noderr-agent.mjs
	inst_simple /etc/noderr-mastr.conf /etc/noderr-mastr.conf
	# shellcheck disable=SC2154 # moddir is set by dracut
	inst_hook pre-pivot 90 "$moddir/noderr-mastr-bootstrap.sh"
}
