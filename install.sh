#!/usr/bin/env bash
# install.sh: production install of genweb on Debian 12, as root, from this checkout.
#
#   ./install.sh [OPTIONS]          the web server: packages, the genweb user, the application in
#                                   /opt/genweb/venv under gunicorn (systemd, or an init script
#                                   where systemd is not running), nginx over http and https with
#                                   basic auth, the store in /var/lib/genweb. Run it again to
#                                   upgrade in place: the store, users and certificates are kept.
#   ./install.sh --node [OPTIONS]   a cluster node: packages (nothing started), the genweb user
#                                   with its sudo rights, sshd's "Match User genweb" block
#                                   (manual 5.2.5), /etc/ssl/genproxy_pvt, the project's agents.
#
# docs/install.md is the manual for both.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX=/opt/genweb
VENV=$PREFIX/venv
INSTANCE=/var/lib/genweb
ETC=/etc/genweb
SETTINGS=$ETC/install.conf          # choices remembered for the next run (ports, certificate)
USER_NAME=genweb
NGINX_GROUP=www-data                # nginx's worker user on Debian: reads the htpasswd file

SERVER_PACKAGES=(python3 python3-venv nginx openssl ca-certificates openssh-client)
NODE_PACKAGES=(
  kamailio kamailio-extra-modules kamailio-tls-modules kamailio-mysql-modules
  kamailio-redis-modules kamailio-unixodbc-modules kamailio-utils-modules kamailio-json-modules
  rtpengine-daemon rtpengine-utils redis-server mariadb-server mariadb-client
  odbc-mariadb unixodbc python3-pyodbc corosync pacemaker crmsh resource-agents fence-agents
  snmp sipsak python3 python3-pysnmp4 openssh-server sudo iproute2 iputils-ping curl ca-certificates
)

SSHD_CONFIG=/etc/ssh/sshd_config
SSHD_BEGIN="# BEGIN genweb (install.sh --node; manual 5.2.5: remove for password logins)"
SSHD_END="# END genweb"

# Options (a later run keeps the earlier ports and certificate unless given again).
MODE=server
CERT="" KEY="" HTTP_PORT="" HTTPS_PORT=""
ADMIN_USER=admin ADMIN_PASSWORD_FILE=""
START=1 ALLOW_PASSWORD=0

say() { printf '==> %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

usage() {
  cat <<'EOF'
Usage: ./install.sh [OPTIONS]            install or upgrade the genweb web server
       ./install.sh --node [OPTIONS]     prepare a cluster node

Web server options:
  --cert FILE, --key FILE     TLS certificate (chain) and key for https; without them a
                              self-signed certificate is made once and kept
  --http-port N               default 80 (or the previous run's)
  --https-port N              default 443 (or the previous run's)
  --admin-user NAME           the first web user (default admin)
  --admin-password-file FILE  set that user's password from FILE ("-": standard input)
                              Without it: asked on a terminal when no user exists yet,
                              else read from standard input; existing users are kept.
Node options:
  --allow-password            leave sshd's "Match User genweb / PasswordAuthentication no"
                              out (manual 5.2.5, sshKeyEnable No); removes it if present
Both:
  --no-start                  install and configure only; start nothing (image builds,
                              chroots); the services start at the next boot or by hand
  -h, --help                  this help
EOF
}

parse_args() {
  while [ $# -gt 0 ]; do
    case $1 in
      --node) MODE=node ;;
      --cert) CERT=$(readlink -f -- "${2:?--cert needs a file}"); shift ;;
      --key) KEY=$(readlink -f -- "${2:?--key needs a file}"); shift ;;
      --http-port) HTTP_PORT=${2:?--http-port needs a number}; shift ;;
      --https-port) HTTPS_PORT=${2:?--https-port needs a number}; shift ;;
      --admin-user) ADMIN_USER=${2:?--admin-user needs a name}; shift ;;
      --admin-password-file) ADMIN_PASSWORD_FILE=${2:?--admin-password-file needs a file}; shift ;;
      --no-start) START=0 ;;
      --allow-password) ALLOW_PASSWORD=1 ;;
      -h|--help) usage; exit 0 ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
  done
  if [ -n "$CERT" ] || [ -n "$KEY" ]; then
    if [ -z "$CERT" ] || [ -z "$KEY" ]; then die "--cert and --key go together"; fi
    if [ ! -r "$CERT" ] || [ ! -r "$KEY" ]; then die "cannot read $CERT or $KEY"; fi
  fi
  for port in "$HTTP_PORT" "$HTTPS_PORT"; do
    [ -z "$port" ] || [[ $port =~ ^[0-9]{1,5}$ && $port -ge 1 && $port -le 65535 ]] \
      || die "not a port number: $port"
  done
}

check_system() {
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo ./install.sh)"
  if ! command -v apt-get >/dev/null || [ ! -r /etc/debian_version ]; then
    die "this is not Debian"
  fi
  local version
  version=$(cut -d. -f1 /etc/debian_version)
  [ "$version" = 12 ] || say "warning: written for Debian 12, this is $(cat /etc/debian_version)"
}

# systemd is the init only where it runs now: not in chroots, containers without it, sysvinit.
have_systemd() { [ -d /run/systemd/system ]; }

# --- packages -----------------------------------------------------------------------------

# Install what is missing, without recommends, and without letting package scripts start
# services (a temporary policy-rc.d): install.sh starts what it configured, when it is ready.
install_packages() {
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$package")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  say "installing Debian packages: ${missing[*]}"
  local policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# install.sh: no service starts during package installation\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
  if grep -q "install.sh: no service" "$policy" 2>/dev/null; then rm -f "$policy"; trap - EXIT; fi
}

# --- web server ---------------------------------------------------------------------------

load_settings() {
  if [ -r "$SETTINGS" ]; then
    local saved_cert="" saved_key="" saved_http="" saved_https=""
    # shellcheck disable=SC1090  # our own key=value file, written by save_settings
    . "$SETTINGS"
    CERT=${CERT:-$saved_cert} KEY=${KEY:-$saved_key}
    HTTP_PORT=${HTTP_PORT:-$saved_http} HTTPS_PORT=${HTTPS_PORT:-$saved_https}
  fi
  HTTP_PORT=${HTTP_PORT:-80} HTTPS_PORT=${HTTPS_PORT:-443}
}

save_settings() {
  install -d -m 0755 "$ETC"
  {
    echo "# install.sh's choices, used again by the next run (options override them)."
    printf 'saved_cert=%q\nsaved_key=%q\n' "$CERT_GIVEN" "$KEY_GIVEN"
    printf 'saved_http=%q\nsaved_https=%q\n' "$HTTP_PORT" "$HTTPS_PORT"
  } >"$SETTINGS.new"
  mv -f "$SETTINGS.new" "$SETTINGS"
}

ensure_service_user() {
  if ! id "$USER_NAME" >/dev/null 2>&1; then
    say "creating system user $USER_NAME"
    useradd --system --user-group --home-dir "$INSTANCE" --no-create-home \
      --shell /usr/sbin/nologin --comment "genweb web interface" "$USER_NAME"
  fi
}

# The application goes into its own virtualenv from a clean copy of the checkout (the build
# never writes into the operator's tree). Later runs reuse the venv: pip reinstalls genweb and
# needs the network only when a dependency is new or changed.
install_application() {
  say "installing genweb into $VENV"
  install -d -m 0755 "$PREFIX" "$PREFIX/bin" "$PREFIX/docs"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
  # pip trusts the system's CA store, like apt and everything else here (also where a
  # TLS-inspecting proxy's CA was added to /usr/local/share/ca-certificates).
  export PIP_CERT=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
  # setuptools and wheel in the venv itself: builds need no download (--no-build-isolation).
  "$VENV/bin/pip" install -q "setuptools>=61" wheel
  local stage
  stage=$(mktemp -d)
  tar -C "$HERE" -cf - --exclude=.git --exclude=.venv --exclude=instance --exclude=build \
    --exclude=dist --exclude='*.egg-info' --exclude=__pycache__ --exclude=.pytest_cache \
    --exclude=.ruff_cache --exclude=.hypothesis --exclude=tests --exclude=bench --exclude=.ci \
    --exclude=node_modules . | tar -C "$stage" -xf -
  # pip always rebuilds and reinstalls a local project; dependencies only when needed.
  "$VENV/bin/pip" install -q --no-build-isolation "$stage" || { rm -rf "$stage"; return 1; }
  rm -rf "$stage"

  install -m 0644 "$HERE/deploy/wsgi.py" "$PREFIX/wsgi.py"
  install -d -m 0755 "$ETC"
  install -m 0644 "$HERE/deploy/gunicorn.conf.py" "$ETC/gunicorn.conf.py"
  install -m 0755 "$HERE/deploy/genweb-command" /usr/local/bin/genweb
  cp -f "$HERE/docs/"*.md "$PREFIX/docs/" 2>/dev/null || true
  local package
  package=$("$VENV/bin/python" -c 'import genweb, os; print(os.path.dirname(genweb.__file__))')
  ln -sfn "$package/static" "$PREFIX/static"     # nginx serves /static/ from here
  install_operator_tools
}

# bin/cpsshkeys and bin/dbShow (manual 5.2.5): in /usr/local/bin and in $PREFIX/bin, the "root
# directory of the current version". Each is a small wrapper around the checkout's script
# (kept in $PREFIX/libexec): this server's store unless --instance or $GENWEB_INSTANCE says
# otherwise (sudo resets the environment), and genweb's Python for a Python script.
install_operator_tools() {
  local tool path run
  for tool in cpsshkeys dbShow; do
    path=$HERE/bin/$tool
    [ -f "$path" ] || continue
    install -d -m 0755 "$PREFIX/libexec"
    install -m 0755 "$path" "$PREFIX/libexec/$tool"
    run=$PREFIX/libexec/$tool
    if head -n1 "$path" | grep -q '^#!.*python'; then run="$VENV/bin/python $run"; fi
    cat >"$PREFIX/bin/$tool.new" <<EOF
#!/bin/sh
# $tool, installed by install.sh: this server's store unless told otherwise.
export GENWEB_INSTANCE="\${GENWEB_INSTANCE:-$INSTANCE}"
exec $run "\$@"
EOF
    chmod 0755 "$PREFIX/bin/$tool.new"
    mv -f "$PREFIX/bin/$tool.new" "$PREFIX/bin/$tool"
    ln -sfn "$PREFIX/bin/$tool" "/usr/local/bin/$tool"
  done
}

# The instance: the store, htpasswd, secret_key and ssh/ of the application. nginx must read
# htpasswd and nothing else: the folder is genweb:www-data 2710 (www-data may only pass
# through; setgid, so a rewritten htpasswd stays in group www-data) and everything else in
# it is created under umask 077.
prepare_instance() {
  install -d -m 2710 -o "$USER_NAME" -g "$NGINX_GROUP" "$INSTANCE"
  chown "$USER_NAME:$NGINX_GROUP" "$INSTANCE"
  chmod 2710 "$INSTANCE"
  chown -R "$USER_NAME" "$INSTANCE"
  backup_store
  say "creating or updating the store in $INSTANCE"
  as_genweb init-db >/dev/null
}

# The genweb command as the service user (files it makes are the service's), from / so that
# an unreadable current directory (root's home) does not matter.
as_genweb() {
  (cd / && umask 077 && GENWEB_INSTANCE=$INSTANCE runuser -u "$USER_NAME" -- "$VENV/bin/genweb" "$@")
}

# Before an upgrade touches the store: a consistent copy (SQLite's backup API), last 5 kept.
# The application's create_all() only adds tables, so today there is nothing to migrate; a
# schema change that alters existing tables would add its step here, after this backup.
backup_store() {
  local store=$INSTANCE/genweb.sqlite
  [ -s "$store" ] || return 0
  local dir=$INSTANCE/backups copy
  copy=$dir/genweb-$(date +%Y%m%d-%H%M%S).sqlite
  (cd / && umask 077 && runuser -u "$USER_NAME" -- mkdir -p "$dir")
  (cd / && umask 077 && runuser -u "$USER_NAME" -- "$VENV/bin/python" -c '
import sqlite3, sys
source, target = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2])
source.backup(target)
target.close()
source.close()' "$store" "$copy")
  say "store backed up to $copy"
  # shellcheck disable=SC2012  # our own file names: no spaces or newlines
  ls -1t "$dir"/genweb-*.sqlite | tail -n +6 | xargs -r rm -f --
}

users_exist() { [ -s "$INSTANCE/htpasswd" ] && grep -q '^[^#].*:' "$INSTANCE/htpasswd"; }

# The first web user: from --admin-password-file, else asked on a terminal, else one line of
# standard input; only when no user exists yet, unless a password file was given.
ensure_admin() {
  local password=""
  if [ -n "$ADMIN_PASSWORD_FILE" ]; then
    if [ "$ADMIN_PASSWORD_FILE" = - ]; then
      IFS= read -r password || true
    else
      IFS= read -r password <"$ADMIN_PASSWORD_FILE" || true
    fi
    [ -n "$password" ] || die "no password in $ADMIN_PASSWORD_FILE"
  elif users_exist; then
    say "web users kept: $(cut -d: -f1 "$INSTANCE/htpasswd" | paste -sd' ')"
    return 0
  elif [ -t 0 ]; then
    local again=""
    IFS= read -r -s -p "Password for the web user $ADMIN_USER: " password; echo
    IFS= read -r -s -p "Again: " again; echo
    [ "$password" = "$again" ] || die "the passwords differ"
  else
    IFS= read -r password || true
  fi
  [ -n "$password" ] || die "no password for web user $ADMIN_USER: give --admin-password-file FILE or send it on standard input"
  printf '%s\n' "$password" | as_genweb passwd "$ADMIN_USER"
}

# htpasswd: genweb writes it, nginx (www-data) reads it. Enforced on every run, since an
# older install or a hand edit may have left other owners.
fix_htpasswd_access() {
  [ -e "$INSTANCE/htpasswd" ] || return 0
  chown "$USER_NAME:$NGINX_GROUP" "$INSTANCE/htpasswd"
  chmod 0640 "$INSTANCE/htpasswd"
}

# https: the operator's certificate (--cert/--key, remembered), else a self-signed one made
# once in /etc/genweb/tls and kept across upgrades.
prepare_certificate() {
  CERT_GIVEN=$CERT KEY_GIVEN=$KEY
  if [ -n "$CERT" ]; then
    openssl x509 -in "$CERT" -noout 2>/dev/null || die "$CERT is not a PEM certificate"
    openssl pkey -in "$KEY" -noout 2>/dev/null || die "$KEY is not a PEM private key"
    return 0
  fi
  CERT=$ETC/tls/genweb.crt KEY=$ETC/tls/genweb.key
  [ -s "$CERT" ] && [ -s "$KEY" ] && return 0
  local name
  name=$(hostname -f 2>/dev/null || hostname)
  say "making a self-signed certificate for $name (replace it with --cert/--key)"
  install -d -m 0750 "$ETC/tls"
  (umask 077 && openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days 3650 \
    -subj "/CN=$name" -addext "subjectAltName=DNS:$name,DNS:localhost,IP:127.0.0.1" \
    -keyout "$KEY" -out "$CERT" 2>/dev/null)
  chmod 0644 "$CERT"
}

# The site from nginx/: two servers (http, https), shared locations and proxy settings.
install_nginx_site() {
  say "installing the nginx site (http :$HTTP_PORT, https :$HTTPS_PORT)"
  install -m 0644 "$HERE/nginx/genweb-site.conf" /etc/nginx/snippets/genweb-site.conf
  install -m 0644 "$HERE/nginx/genweb-proxy.conf" /etc/nginx/snippets/genweb-proxy.conf
  local site=/etc/nginx/sites-available/genweb
  sed -e "s|@HTTP_PORT@|$HTTP_PORT|g" -e "s|@HTTPS_PORT@|$HTTPS_PORT|g" \
      -e "s|@CERT@|$CERT|g" -e "s|@KEY@|$KEY|g" "$HERE/nginx/genweb.conf" >"$site.new"
  # Without IPv6 in the kernel, "listen [::]:…" would stop nginx from starting.
  [ -e /proc/net/if_inet6 ] || sed -i '/listen \[::\]/d' "$site.new"
  mv -f "$site.new" "$site"
  ln -sfn "$site" /etc/nginx/sites-enabled/genweb
  # Debian's welcome site claims default_server on port 80 too.
  if [ "$(readlink /etc/nginx/sites-enabled/default 2>/dev/null)" = /etc/nginx/sites-available/default ]; then
    rm -f /etc/nginx/sites-enabled/default
  fi
  nginx -t -q || die "nginx rejects the configuration (nginx -t above)"
}

# gunicorn under systemd (deploy/genweb.service) or, where systemd does not run, under the
# init script deploy/genweb.init (start-stop-daemon).
install_service() {
  if have_systemd; then
    install -m 0644 "$HERE/deploy/genweb.service" /etc/systemd/system/genweb.service
    systemctl daemon-reload
    systemctl enable --quiet genweb.service
  else
    say "systemd is not running: installing /etc/init.d/genweb (start-stop-daemon)"
    install -m 0755 "$HERE/deploy/genweb.init" /etc/init.d/genweb
    install -m 0644 "$HERE/deploy/genweb.logrotate" /etc/logrotate.d/genweb
    if command -v update-rc.d >/dev/null; then update-rc.d genweb defaults >/dev/null; fi
  fi
}

start_server() {
  say "starting genweb and nginx"
  if have_systemd; then
    systemctl restart genweb.service
    systemctl enable --quiet nginx.service
    systemctl reload-or-restart nginx.service
  else
    /etc/init.d/genweb restart
    if [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
      /etc/init.d/nginx reload
    else
      /etc/init.d/nginx start
    fi
  fi
}

install_server() {
  load_settings
  install_packages "${SERVER_PACKAGES[@]}"
  ensure_service_user
  install_application
  prepare_instance
  ensure_admin
  fix_htpasswd_access
  prepare_certificate
  install_nginx_site
  save_settings
  install_service
  if [ "$START" -eq 1 ]; then start_server; else say "--no-start: nothing started"; fi
  cat <<EOF

genweb is installed.
  https://$(hostname -f 2>/dev/null || hostname):$HTTPS_PORT/   (and http on port $HTTP_PORT)
  store and users: $INSTANCE        web users: genweb passwd USER (as root)
  application:     $VENV            logs: $(have_systemd && echo "journalctl -u genweb" || echo /var/log/genweb/)
EOF
}

# --- cluster node -------------------------------------------------------------------------

# The account the web server logs in as (manual 5.2.5): a shell for the commands it runs, no
# usable password ("*": key logins only; passwd genweb sets one for sshKeyEnable No).
ensure_node_user() {
  if ! id "$USER_NAME" >/dev/null 2>&1; then
    say "creating user $USER_NAME"
    useradd --create-home --shell /bin/bash --comment "genweb cluster management" "$USER_NAME"
    usermod -p '*' "$USER_NAME"
  fi
  local home
  home=$(getent passwd "$USER_NAME" | cut -d: -f6)
  install -d -m 0700 -o "$USER_NAME" -g "$USER_NAME" "$home/.ssh"
}

install_sudoers() {
  local target=/etc/sudoers.d/genweb tmp
  tmp=$(mktemp /etc/sudoers.d/.genweb.XXXXXX)
  install -m 0440 "$HERE/deploy/sudoers.genweb" "$tmp"
  if ! visudo -cqf "$tmp"; then rm -f "$tmp"; die "deploy/sudoers.genweb does not parse"; fi
  mv -f "$tmp" "$target"
  say "sudo rights of $USER_NAME: $target"
}

# Manual 5.2.5: "Match User genweb / PasswordAuthentication no" in sshd_config, once, between
# markers (a Match block must come last). --allow-password removes it. sshd -t checks the
# result; a rejected file is put back.
configure_sshd() {
  [ -f "$SSHD_CONFIG" ] || die "$SSHD_CONFIG is missing (openssh-server)"
  local tmp
  tmp=$(mktemp "$SSHD_CONFIG.genweb.XXXXXX")
  awk -v begin="$SSHD_BEGIN" -v end="$SSHD_END" '
    $0 == begin { skip = 1; next }
    skip && $0 == end { skip = 0; next }
    !skip' "$SSHD_CONFIG" >"$tmp"
  # Drop the blank lines a previous run left before the block, so reruns change nothing.
  sed -i -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$tmp"
  if [ "$ALLOW_PASSWORD" -eq 0 ]; then
    printf '\n%s\nMatch User %s\n  PasswordAuthentication no\n%s\n' \
      "$SSHD_BEGIN" "$USER_NAME" "$SSHD_END" >>"$tmp"
  fi
  # sshd -t needs the host keys and the privilege separation directory (systemd makes it).
  if [ ! -e /etc/ssh/ssh_host_ed25519_key ]; then ssh-keygen -A >/dev/null; fi
  install -d -m 0755 /run/sshd
  if ! sshd -t -f "$tmp"; then rm -f "$tmp"; die "sshd -t rejects the new $SSHD_CONFIG"; fi
  if cmp -s "$tmp" "$SSHD_CONFIG"; then rm -f "$tmp"; return 0; fi
  chmod --reference="$SSHD_CONFIG" "$tmp"
  cp -p "$SSHD_CONFIG" "$SSHD_CONFIG.before-genweb"
  mv -f "$tmp" "$SSHD_CONFIG"
  say "sshd: password logins for $USER_NAME $([ "$ALLOW_PASSWORD" -eq 1 ] && echo allowed || echo refused)"
  [ "$START" -eq 1 ] || return 0
  if have_systemd; then
    systemctl reload-or-restart ssh.service
  elif [ -s /run/sshd.pid ] && kill -0 "$(cat /run/sshd.pid)" 2>/dev/null; then
    /etc/init.d/ssh reload
  fi
}

# Private keys of the proxy's TLS (manual 9.2.4): readable by group genproxy, which Kamailio
# is in; the fences' SNMP pass phrases in /etc/genproxy/fence-secrets, root only.
prepare_private_dirs() {
  getent group genproxy >/dev/null || groupadd --system genproxy
  install -d -m 0750 -o root -g genproxy /etc/ssl/genproxy_pvt
  chgrp genproxy /etc/ssl/genproxy_pvt && chmod 0750 /etc/ssl/genproxy_pvt
  if id kamailio >/dev/null 2>&1; then usermod -a -G genproxy kamailio; fi
  install -d -m 0755 -o root -g root /etc/genproxy
  install -d -m 0700 -o root -g root /etc/genproxy/fence-secrets
}

# genweb/agents/: ocf/* are OCF resource agents (provider amtelco), fence_* fence agents,
# alert*/ Pacemaker alert agents. Commit and Rebuild Nodes install them too; doing it here
# makes a prepared node complete before the first commit.
install_agents() {
  local agents=$HERE/genweb/agents file
  [ -d "$agents" ] || { say "no genweb/agents in this checkout: no agents installed"; return 0; }
  if [ -d "$agents/ocf" ]; then
    install -d -m 0755 /usr/lib/ocf/resource.d/amtelco
    for file in "$agents"/ocf/*; do
      if [ -f "$file" ]; then install -m 0755 "$file" /usr/lib/ocf/resource.d/amtelco/; fi
    done
  fi
  while IFS= read -r -d '' file; do
    install -m 0755 "$file" /usr/sbin/
  done < <(find "$agents" -type f -name 'fence_*' ! -name '*.*' -print0)
  local dir
  for dir in "$agents"/alert "$agents"/alerts; do
    [ -d "$dir" ] || continue
    install -d -m 0755 /usr/share/pacemaker/alerts
    for file in "$dir"/*; do
      if [ -f "$file" ]; then install -m 0755 "$file" /usr/share/pacemaker/alerts/; fi
    done
  done
  say "agents installed from $agents"
}

# Debian enables these at install (and a server installed before may be running): on a cluster
# node only Pacemaker starts them, with genweb's files (the commit disables them again).
disable_engine_units() {
  have_systemd || return 0
  systemctl disable --now kamailio.service rtpengine-daemon.service mariadb.service \
    || say "warning: could not disable kamailio, rtpengine-daemon or mariadb at boot"
}

prepare_node() {
  install_packages "${NODE_PACKAGES[@]}"
  disable_engine_units
  ensure_node_user
  install_sudoers
  configure_sshd
  prepare_private_dirs
  install_agents
  cat <<EOF

This node is prepared. Next, on the web server: cpsshkeys (installs the web server's key for
$USER_NAME here), then add the node on the HA Nodes page and commit.
EOF
}

main() {
  parse_args "$@"
  check_system
  if [ "$MODE" = node ]; then prepare_node; else install_server; fi
}

main "$@"
