"""A stand-alone SMTP server on the SQLite stack, for the SIGKILL durability test.

Usage: python smtp_kill_server.py DATA_DIR MASTER_KEY_HEX. Prints ``PORT <n>`` when listening.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from rongmail.actions.context import ActionContext
from rongmail.bus import Bus
from rongmail.config.settings import Settings
from rongmail.config.smtp import SmtpSettings
from rongmail.pipeline.authenticator import SmtpAuthenticator
from rongmail.pipeline.delivery import ActionDelivery
from rongmail.pipeline.directory import StoreDirectory
from rongmail.pipeline.runner import Runner
from rongmail.pipeline.stages import default_stages
from rongmail.protocols.smtp.server import start_smtp
from rongmail.protocols.smtp.session import SmtpServices
from rongmail.services.auth.authenticate import Authenticator
from rongmail.store.fs.blobs import FsBlobStore
from rongmail.store.fs.keys import KeyRing
from rongmail.store.inline_blobs import InlineBlobStore
from rongmail.store.reader import Reader
from rongmail.store.sql import directory as d
from rongmail.store.sqlite.meta import SqliteMeta


async def main(data_dir: Path, master: bytes) -> None:
    keys = KeyRing(master)
    meta = SqliteMeta(data_dir / "meta.sqlite3")
    await meta.open()
    keys.load(await meta.read(d.tenant_keys()))
    settings = Settings()
    # as app.open_app builds it: these 2 KB bodies are stored by their delivery's transaction
    blobs = InlineBlobStore(FsBlobStore(data_dir / "blobs", keys), meta,
                            inline_max=settings.storage.inline_blob_max)
    ctx = ActionContext(meta=meta, blobs=blobs, bus=Bus(), keys=keys, settings=settings)
    reader = Reader(meta, blobs)
    settings = SmtpSettings(messages_per_minute_per_ip=0, max_connections_per_ip=100)
    directory = StoreDirectory(reader)
    services = SmtpServices(
        Runner(default_stages(settings, directory, hostname="mx.kill.test")),
        directory,
        ActionDelivery(ctx, reader),
        SmtpAuthenticator(Authenticator(reader)),
    )
    server = await start_smtp(
        settings=settings,
        services=services,
        hostname="mx.kill.test",
        listeners={"smtp": ("127.0.0.1", 0)},
        tls=None,
    )
    print("PORT", next(iter(server.addresses.values()))[1], flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), bytes.fromhex(sys.argv[2])))
