#!/usr/bin/env bash
# Set up everything the test suite needs on a Debian 12 machine and run the whole suite.
#   ./scripts/test.sh [pytest arguments]
# Installs the Debian packages the tests start (as root, or with sudo), creates .venv with the
# test extras, checks the code with ruff, then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_debian_packages python3 python3-venv python3-pip chromium fonts-dejavu-core \
  kamailio kamailio-extra-modules kamailio-tls-modules kamailio-mysql-modules \
  kamailio-redis-modules kamailio-unixodbc-modules kamailio-utils-modules kamailio-json-modules \
  rtpengine-daemon rtpengine-utils redis-server sip-tester mariadb-server odbc-mariadb unixodbc python3-pyodbc \
  corosync pacemaker crmsh resource-agents fence-agents python3-pysnmp4 sipsak \
  openssh-server openssh-client snmpd snmp sudo iproute2 util-linux passwd \
  mmdebstrap shellcheck
make_venv "[test]"

.venv/bin/ruff check genweb tests
exec .venv/bin/python -m pytest -q "$@"
