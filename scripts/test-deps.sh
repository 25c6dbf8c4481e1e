#!/usr/bin/env bash
# Install the Debian packages the test suite drives as real peers, only when missing.
# Real parts, not mocks: Postfix, Dovecot, swaks, mbsync, fetchmail, neomutt, a DNS server,
# Chromium. Runs as root (CI and these machines); otherwise prints what is missing.
set -euo pipefail
PKGS=(postfix swaks dovecot-imapd dovecot-pop3d dovecot-lmtpd isync offlineimap3 fetchmail neomutt tmux
      knot knot-dnsutils dnsutils dnsmasq-base chromium fonts-wqy-microhei zstd
      clamav-daemon slapd ldap-utils rspamd libnet-ssleay-perl libio-socket-ssl-perl)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "test-deps: missing Debian packages (install as root): ${missing[*]}" >&2
  exit 0
fi
echo "test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
apt-get update -qq
# policy-rc.d keeps Debian from starting the system daemons on the standard ports
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
