"""A minimal Dovecot auth protocol client (Prosody's side), for tests and the benchmark."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field


@dataclass
class Reply:
    """One server line: ``kind`` is OK / CONT / FAIL."""

    kind: str
    id: int
    fields: list[str]
    params: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> bytes:
        """CONT payload, or OK's ``resp=``."""
        raw = self.params.get("resp", "") if self.kind == "OK" else (self.fields or [""])[0]
        return base64.b64decode(raw) if raw not in ("", "=") else b""

    @property
    def flags(self) -> set[str]:
        return {f for f in self.fields if "=" not in f}


def parse_reply(line: str) -> Reply:
    parts = line.rstrip("\n").split("\t")
    params = {}
    for item in parts[2:]:
        key, eq, value = item.partition("=")
        if eq:
            params[key] = value
    return Reply(parts[0], int(parts[1]), parts[2:], params)


class DovecotClient:
    """Connects, reads the handshake, then sends AUTH/CONT lines and reads replies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.mechanisms: dict[str, list[str]] = {}
        self.handshake: list[str] = []
        self._next_id = 0

    @classmethod
    async def connect(cls, *, path: str = "", host: str = "127.0.0.1",
                      port: int = 0) -> DovecotClient:
        if path:
            reader, writer = await asyncio.open_unix_connection(path, limit=1 << 20)
        else:
            reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        client = cls(reader, writer)
        writer.write(b"VERSION\t1\t1\nCPID\t4242\n")
        while True:
            line = (await asyncio.wait_for(reader.readline(), 5)).decode()
            if not line:
                raise ConnectionError("closed during handshake")
            client.handshake.append(line.rstrip("\n"))
            parts = line.rstrip("\n").split("\t")
            if parts[0] == "MECH":
                client.mechanisms[parts[1]] = parts[2:]
            if parts[0] == "DONE":
                return client

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def send_auth(self, req_id: int, mechanism: str, initial: bytes | None) -> None:
        resp = "=" if initial is None else base64.b64encode(initial).decode()
        self.writer.write(f"AUTH\t{req_id}\t{mechanism}\tservice=xmpp\tresp={resp}\n".encode())

    def send_cont(self, req_id: int, data: bytes | None) -> None:
        payload = "=" if data is None else base64.b64encode(data).decode()
        self.writer.write(f"CONT\t{req_id}\t{payload}\n".encode())

    async def read(self, timeout: float = 5.0) -> Reply:
        line = await asyncio.wait_for(self.reader.readline(), timeout)
        if not line:
            raise ConnectionError("connection closed")
        return parse_reply(line.decode())

    async def auth(self, mechanism: str, initial: bytes | None,
                   req_id: int | None = None) -> Reply:
        req_id = self.new_id() if req_id is None else req_id
        self.send_auth(req_id, mechanism, initial)
        return await self.read()

    async def cont(self, req_id: int, data: bytes | None) -> Reply:
        self.send_cont(req_id, data)
        return await self.read()

    async def oauthbearer(self, token: str, authzid: str | None = None) -> list[Reply]:
        """A whole OAUTHBEARER exchange, answering an error challenge with %x01."""
        gs2 = f"n,a={authzid}," if authzid else "n,,"
        replies = [await self.auth("OAUTHBEARER",
                                   f"{gs2}\x01auth=Bearer {token}\x01\x01".encode())]
        if replies[-1].kind == "CONT":
            replies.append(await self.cont(replies[-1].id, b"\x01"))
        return replies

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
