# gunicorn settings of the installed genweb (install.sh copies this to /etc/genweb/gunicorn.conf.py;
# a later install.sh run replaces it, so keep local changes in a note, not here).
#
# nginx is the only client: it terminates http/https, checks basic auth and forwards to
# 127.0.0.1:8081. One worker process with threads, because the application keeps per-process
# state that must be shared by all requests (one commit at a time, its progress stream) and the
# SQLite store serialises writers anyway; threads keep long streamed requests from blocking others.

import os

wsgi_app = "wsgi:application"  # /opt/genweb/wsgi.py: create_app() behind ProxyFix
pythonpath = "/opt/genweb"
chdir = "/var/lib/genweb"
raw_env = ["GENWEB_INSTANCE=/var/lib/genweb"]

bind = ["127.0.0.1:8081"]
workers = 1
worker_class = "gthread"
threads = 16
# gthread workers heartbeat from their main loop, so a long commit or stream in a thread is not
# killed by this; it only catches a worker that hangs as a whole.
timeout = 120
graceful_timeout = 30
keepalive = 5

# Only nginx on this host may set X-Forwarded-Proto (https detection for url_for and cookies).
forwarded_allow_ips = "127.0.0.1"

# The store, its WAL files, the session key and the SSH key must stay private to genweb; the
# htpasswd file is written 0640 by the application itself (group www-data, for nginx).
# gunicorn's own `umask` setting covers only its sockets: set the process umask here too, so it
# holds however gunicorn was started (systemd's UMask= and the init script set it as well).
umask = 0o077
os.umask(umask)

proc_name = "genweb"
accesslog = "-"
errorlog = "-"
loglevel = "info"
capture_output = True
