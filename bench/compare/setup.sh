#!/usr/bin/env bash
# Installs what `npm run bench:compare` needs: Dovecot (IMAP, POP3, LMTP) from
# Debian, and Postfix's tools. The system services are kept from starting: the
# benchmark runs its own Dovecot instance under a temp dir.
set -euo pipefail
need=()
command -v dovecot >/dev/null || need+=(dovecot-imapd dovecot-pop3d dovecot-lmtpd)
[ -x /usr/sbin/qmqp-source ] || [ -x /usr/lib/postfix/sbin/qmqp-source ] || need+=(postfix)
[ ${#need[@]} -eq 0 ] && { echo "bench/compare: everything is installed"; exit 0; }
SUDO=""; [ "$(id -u)" != 0 ] && SUDO=sudo
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
fi
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
