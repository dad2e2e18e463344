"""The browser pages: one blueprint per kind of page, all driven by the catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from ..catalogue import PAGES


@dataclass(frozen=True)
class SidebarLink:
    label: str
    endpoint: str | None  # None: the page comes in a later version and is not shown as a link
    page: str = ""


# The manual's sidebar (Figure 3), in its order.
SIDEBAR = (
    SidebarLink("System Config", "settings.systemConfig", "systemConfig"),
    SidebarLink("System Status", "status.index"),
    SidebarLink("HA Nodes", "records.index", "haNodes"),
    SidebarLink("Fences", "records.index", "fences"),
    SidebarLink("Proxy Config", "settings.proxyConfig", "proxyConfig"),
    SidebarLink("Proxy Media Config", "settings.mediaConfig", "mediaConfig"),
    SidebarLink("Proxy TLS Configs", "records.index", "tlsProxyConfigs"),
    SidebarLink("Proxy Notifications", "records.index", "notifies"),
    SidebarLink("Subscribers", "records.index", "subscribers"),
    SidebarLink("Outbound Registrations", "records.index", "outboundRegistrations"),
    SidebarLink("Database Config", "settings.databaseConfig", "databaseConfig"),
    SidebarLink("Database Utilities", "database_utilities.index"),
    SidebarLink("Rebuild Nodes", "operations.rebuild"),
    SidebarLink("Commit Configs", "operations.commit"),
)
assert {link.page for link in SIDEBAR if link.page} == set(PAGES)


def register(app: Flask) -> None:
    from . import database_utilities, home, jobs, operations, records, settings, status

    app.register_blueprint(home.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(settings.bp)
    app.register_blueprint(records.bp)
    app.register_blueprint(database_utilities.bp)
    app.register_blueprint(operations.bp)
    app.register_blueprint(status.bp)

    @app.context_processor
    def _sidebar():
        return {"sidebar": SIDEBAR}
