"""Helpers for the engine tests of media.py and database.py: free loopback ports, processes
started and stopped by PID, config lines rewritten for a throw-away run."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_port_range(size: int) -> tuple[int, int]:
    """A run of UDP ports that are free now (rtpengine only binds them per call)."""
    for _ in range(50):
        low = free_port(socket.SOCK_DGRAM) & ~0x3F
        if low < 20000 or low + size > 65535:
            continue
        sockets: list[socket.socket] = []
        try:
            for port in range(low, low + size):
                sockets.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
                sockets[-1].bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return low, low + size - 1
    raise RuntimeError("no free UDP port range")


def rewrite(text: str, values: Mapping[str, str], separator: str = " = ") -> str:
    """Replace the value of each ``key<separator>value`` line (the keys must all be present)."""
    for key, value in values.items():
        pattern = re.compile(rf"^{re.escape(key)}{re.escape(separator)}.*$", re.MULTILINE)
        text, count = pattern.subn(lambda _match, key=key, value=value: f"{key}{separator}{value}",
                                   text)
        assert count, f"{key} is not in the rendered file"
    return text


class Process:
    """A daemon run in the foreground for a test, its output in a log file, stopped by PID."""

    def __init__(self, command: Sequence[str], log: Path, env: Mapping[str, str] | None = None):
        self.log = log
        self._out: IO[bytes] = log.open("ab")
        self.popen = subprocess.Popen(list(command), stdout=self._out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=env, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        self.stop(signal.SIGKILL)

    def stop(self, how: int = signal.SIGTERM) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, how)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._out.close()


def wait_for(condition: Callable[[], object], timeout: float = 10, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.05)


def run(command: Sequence[str], env: Mapping[str, str] | None = None, stdin: str | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(command), capture_output=True, text=True, input=stdin,
                            env=None if env is None else {**os.environ, **env}, timeout=30)
    if check and result.returncode:
        raise AssertionError(f"{command[0]} exited {result.returncode}: {result.stderr}{result.stdout}")
    return result


# -- rtpengine's NG control protocol (bencode over UDP), enough to offer a call ---------------

def bencode(value: object) -> bytes:
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(item) for item in value) + b"e"
    if isinstance(value, dict):
        return b"d" + b"".join(bencode(key) + bencode(item)
                               for key, item in sorted(value.items())) + b"e"
    raise TypeError(value)


def bdecode(data: bytes, at: int = 0) -> tuple[object, int]:
    kind = data[at:at + 1]
    if kind == b"i":
        end = data.index(b"e", at)
        return int(data[at + 1:end]), end + 1
    if kind in (b"l", b"d"):
        items, at = [], at + 1
        while data[at:at + 1] != b"e":
            item, at = bdecode(data, at)
            items.append(item)
        if kind == b"l":
            return items, at + 1
        return {key.decode(): item for key, item in zip(items[::2], items[1::2], strict=True)}, at + 1
    colon = data.index(b":", at)
    length = int(data[at:colon])
    return data[colon + 1:colon + 1 + length], colon + 1 + length


def ng_command(port: int, message: dict[str, object]) -> dict[str, object]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        cookie = os.urandom(4).hex().encode()
        sock.sendto(cookie + b" " + bencode(message), ("127.0.0.1", port))
        reply = sock.recv(65535)
    assert reply.startswith(cookie + b" ")
    decoded, _ = bdecode(reply, len(cookie) + 1)
    assert isinstance(decoded, dict)
    return decoded


def offer(port: int, call_id: str, direction: tuple[str, str] = ("priv", "pub")) -> str:
    """Offer a one-stream audio call from a private-side phone; the SDP rtpengine gives back."""
    sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.5\r\ns=-\r\nc=IN IP4 127.0.0.5\r\nt=0 0\r\n"
           "m=audio 40000 RTP/AVP 0\r\n")
    reply = ng_command(port, {"command": "offer", "call-id": call_id, "from-tag": "tag-1",
                              "sdp": sdp, "direction": list(direction),
                              "replace": ["origin", "session-connection"]})
    assert reply["result"] == b"ok", reply
    return reply["sdp"].decode()


# -- RTP and SRTP far ends (tests/media/test_failover.py, bench/media.py) ---------------------

RTP_HEADER = struct.Struct("!BBHII")  # V=2 flags, payload type, sequence, timestamp, SSRC
SRTP_TAG = 10  # AES_CM_128_HMAC_SHA1_80: an 80-bit authentication tag


def rtp_packet(ssrc: int, seq: int, payload: bytes, payload_type: int = 0) -> bytes:
    """One RTP packet of a 20 ms G.711 stream (160 samples per packet)."""
    return RTP_HEADER.pack(0x80, payload_type, seq & 0xFFFF, (seq * 160) & 0xFFFFFFFF, ssrc) + payload


def _aes_keystream(key: bytes, counter: int, length: int) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CTR(counter.to_bytes(16, "big"))).encryptor()
    return encryptor.update(bytes(length))


class Srtp:
    """SRTP with AES_CM_128_HMAC_SHA1_80 (RFC 3711), the SDES suite of an ``a=crypto`` line.

    One object per key: the far end's own key to send, or the key rtpengine offered to read
    what rtpengine sends. The rollover counter stays 0: no stream here wraps 65536 packets.
    """

    def __init__(self, inline: str) -> None:
        material = base64.b64decode(inline)
        master_key, master_salt = material[:16], int.from_bytes(material[16:30], "big")

        def derive(label: int, length: int) -> bytes:  # key derivation rate 0: r = 0
            return _aes_keystream(master_key, (master_salt ^ (label << 48)) << 16, length)

        self.key, self.auth = derive(0, 16), derive(1, 20)
        self.salt = int.from_bytes(derive(2, 14), "big")

    def _crypt(self, header: bytes, body: bytes) -> bytes:
        ssrc, seq = int.from_bytes(header[8:12], "big"), int.from_bytes(header[2:4], "big")
        counter = (self.salt << 16) ^ (ssrc << 64) ^ (seq << 16)
        stream = _aes_keystream(self.key, counter, len(body))
        return bytes(a ^ b for a, b in zip(body, stream, strict=True))

    def _tag(self, authenticated: bytes) -> bytes:
        return hmac.new(self.auth, authenticated + bytes(4), hashlib.sha1).digest()[:SRTP_TAG]

    def protect(self, packet: bytes) -> bytes:
        header = packet[:RTP_HEADER.size]
        sealed = header + self._crypt(header, packet[RTP_HEADER.size:])
        return sealed + self._tag(sealed)

    def unprotect(self, packet: bytes) -> bytes | None:
        """The plain RTP packet, or None when the tag is wrong (another key, or tampered)."""
        sealed, tag = packet[:-SRTP_TAG], packet[-SRTP_TAG:]
        if len(sealed) < RTP_HEADER.size or not hmac.compare_digest(self._tag(sealed), tag):
            return None
        header = sealed[:RTP_HEADER.size]
        return header + self._crypt(header, sealed[RTP_HEADER.size:])


def new_sdes_key() -> str:
    """An ``inline:`` value: 16 bytes of master key and 14 of master salt."""
    return base64.b64encode(os.urandom(30)).decode()


def sdes_key(sdp: str, suite: str = "AES_CM_128_HMAC_SHA1_80") -> tuple[str, str]:
    """(tag, inline key) of the ``a=crypto`` line with that suite."""
    found = re.search(rf"^a=crypto:(\d+) {suite} inline:([A-Za-z0-9+/=]+)", sdp, re.MULTILINE)
    assert found, f"no {suite} in\n{sdp}"
    return found.group(1), found.group(2)


def media_address(sdp: str) -> tuple[str, int]:
    """The c= address and m=audio port an SDP points its peer at."""
    address = re.search(r"^c=IN IP4 (\S+)", sdp, re.MULTILINE)
    port = re.search(r"^m=audio (\d+) ", sdp, re.MULTILINE)
    assert address and port, sdp
    return address.group(1), int(port.group(1))


def audio_sdp(address: str, port: int, profile: str = "RTP/AVP", crypto: str = "") -> str:
    lines = ["v=0", f"o=- 1 1 IN IP4 {address}", "s=-", f"c=IN IP4 {address}", "t=0 0",
             f"m=audio {port} {profile} 0", "a=rtpmap:0 PCMU/8000", "a=sendrecv"]
    if crypto:
        lines.append(f"a=crypto:{crypto}")
    return "\r\n".join(lines) + "\r\n"


def rtpengine_pid(pidfile: Path) -> int | None:
    """The PID in an rtpengine PID file while that process is an rtpengine, else None."""
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    comm = Path(f"/proc/{pid}/comm")
    return pid if comm.exists() and comm.read_text().strip() == "rtpengine" else None
