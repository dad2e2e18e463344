"""Cross-field rules of the manual. Each takes a page's effective values and returns {key: message}.

The values are those of the keys that passed their own checks, with blank and "Default"
resolved to the manual's defaults; a key that failed its own check is absent, so rules that
need it stay silent (the key already shows its own message).
"""

from __future__ import annotations

from collections.abc import Mapping

from . import validators as v


def public_network(values: Mapping[str, str]) -> dict[str, str]:
    """3.7 and 3.10: what a publicIP needs."""
    errors: dict[str, str] = {}
    public_ip, mapped_ip = values.get("publicIP", ""), values.get("mappedIP", "")
    if not public_ip:
        return errors
    mapped_is_private = bool(mapped_ip) and v.in_subnet(
        mapped_ip, values.get("privateIP", ""), values.get("privateSubnet", "")
    )
    # Whether publicPing may be left out depends on mappedIP, privateIP and privateSubnet: while
    # one of them shows its own message, the answer is unknown, so say nothing yet.
    decidable = all(name in values for name in ("publicPing", "mappedIP", "privateIP",
                                                 "privateSubnet"))
    if decidable and not values["publicPing"] and not mapped_is_private:
        errors["publicPing"] = (
            "publicPing is required when publicIP is set, unless mappedIP is on privateIP's subnet"
        )
    if not v.is_ipv4(public_ip):
        if not mapped_ip and "mappedIP" in values:
            errors["mappedIP"] = "mappedIP is required when publicIP is a hostname"
        aliases = [line.partition(":")[0] for line in v.split_lines(values.get("alias", ""))]
        if "alias" in values and not any(v.is_ipv4(alias) for alias in aliases):
            errors["alias"] = (
                "publicIP is a hostname: enter the public network IP address in alias "
                "(as <address>[:<port>], with the port if not 5060)"
            )
    return errors


def snmp_v3(values: Mapping[str, str]) -> dict[str, str]:
    """6.2.10-6.2.13: SNMPv3 privacy (authPriv) only works on top of authentication, and each
    protocol in use needs its password (net-snmp refuses pass phrases under 8 characters)."""
    if values.get("fenceSnmpVersion") != "3":
        return {}
    errors = {}
    if values.get("fenceSnmpPrivProt", "None") != "None" and values.get("fenceSnmpAuthProt") == "None":
        errors["fenceSnmpPrivProt"] = "a privacy protocol needs an authentication protocol (SHA or MD5)"
    for protocol, password in (("fenceSnmpAuthProt", "fenceSnmpAuthPass"),
                               ("fenceSnmpPrivProt", "fenceSnmpPrivPass")):
        if values.get(protocol, "None") == "None" or password not in values:
            continue
        secret = values[password]
        if len(secret) < 8 or secret != secret.strip():
            errors[password] = (f"{values[protocol]} needs a password of at least 8 characters, "
                                "without leading or trailing spaces")
    return errors


def dispatch_prefixes(values: Mapping[str, str]) -> dict[str, str]:
    """7.1.20-7.1.21: the two registration prefixes must not be prefixes of each other."""
    primary, secondary = values.get("dispatchPriUser"), values.get("dispatchSecUser")
    if primary and secondary and (primary.startswith(secondary) or secondary.startswith(primary)):
        return {"dispatchSecUser": f"dispatchSecUser '{secondary}' and dispatchPriUser "
                f"'{primary}' must not be prefixes of each other"}
    return {}


def dispatch_auth(values: Mapping[str, str]) -> dict[str, str]:
    """7.1.26: a realm is required when digest authentication is enabled."""
    if values.get("dispatchAuthUser") and "dispatchAuthRealm" in values \
            and not values["dispatchAuthRealm"]:
        return {"dispatchAuthRealm": "dispatchAuthRealm is required when dispatchAuthUser is set"}
    return {}


def rtp_ports(values: Mapping[str, str]) -> dict[str, str]:
    """8.1.2-8.1.3: the RTP port range must not be empty."""
    low, high = values.get("rtpPortMin"), values.get("rtpPortMax")
    if low and high and int(low) >= int(high):
        return {"rtpPortMax": f"rtpPortMax ({high}) must be greater than rtpPortMin ({low})"}
    return {}
