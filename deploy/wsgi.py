"""The WSGI entry point of the installed genweb (install.sh copies it to /opt/genweb/wsgi.py).

nginx in front sets X-Forwarded-For/-Proto/-Host/-Port; ProxyFix trusts exactly that one hop, so
the application sees the operator's address, scheme and host instead of 127.0.0.1.
"""

from __future__ import annotations

import os

from werkzeug.middleware.proxy_fix import ProxyFix

from genweb import create_app

app = create_app(instance=os.environ.get("GENWEB_INSTANCE", "/var/lib/genweb"))
app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)  # type: ignore[method-assign]
application = app
