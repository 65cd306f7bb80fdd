"""Outbound HTTP that cannot be aimed at the server's own networks (webhook URLs are typed in by admins,
and a URL is all server-side request forgery needs).

Two checks, both on addresses, never on names:
1. before the request, every address the host name resolves to must be public (`is_global`): a
   refusal here is final (the delivery fails at once, no retries);
2. when the connection is made, the address actually connected to is checked again, so a name that
   resolves to a public address for the first check and to 127.0.0.1 a moment later (DNS rebinding)
   still gets nowhere.
Proxies from the environment are ignored (they would hide the address). Admins can allow private
addresses (a receiver on the same network) in Admin → Webhooks; the operator can set
WEBHOOKS_ALLOW_PRIVATE for the same.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache
from typing import Optional
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class BlockedAddress(OSError):
    """The URL leads to an address webhooks may not call."""


def address_allowed(ip: str) -> bool:
    addr = ipaddress.ip_address(ip.split("%", 1)[0])  # "fe80::1%eth0": the zone is not part of it
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return addr.is_global


def check_url(url: str) -> Optional[str]:
    """Why `url` may not be called (a sentence for the delivery log), or None when every address its
    host resolves to is public."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        return "the URL has no host"
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        return f"the host {host} does not resolve ({e})"
    for info in infos:
        ip = info[4][0]
        if not address_allowed(ip):
            return _refusal(host, ip)
    return None


def _refusal(host: str, ip: str) -> str:
    return (
        f"{host} resolves to {ip}, a loopback, private, link-local or reserved address: webhooks may "
        "not call it unless private addresses are allowed (Admin → Webhooks)"
    )


def _guarded(base: type) -> type:
    class Guarded(base):
        def _new_conn(self):
            sock = super()._new_conn()
            ip = sock.getpeername()[0]
            if not address_allowed(ip):
                sock.close()
                raise BlockedAddress(_refusal(self.host, ip))
            return sock

    Guarded.__name__ = f"Guarded{base.__name__}"
    return Guarded


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _guarded(HTTPConnection)


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _guarded(HTTPSConnection)


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


@lru_cache(maxsize=2)
def session(allow_private: bool) -> requests.Session:
    """A session for outbound calls (one per process and mode: connections are reused)."""
    s = requests.Session()
    s.trust_env = False
    if not allow_private:
        s.mount("http://", _GuardedAdapter())
        s.mount("https://", _GuardedAdapter())
    return s
