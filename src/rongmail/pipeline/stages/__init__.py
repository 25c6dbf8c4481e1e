"""The built-in inbound stages, one per file, and the default order.

``default_stages`` is what ``app.py`` passes to :class:`rongmail.pipeline.runner.Runner`:
connection → helo → sender → recipient → rate_limit → size → submission, then ``data_stages``:
the slot for the DATA-checkpoint stages other areas provide (mailauth: SPF/DKIM/DMARC/ARC, spam,
attachment, AI classification, user rules), in the order given.
"""

from __future__ import annotations

from collections.abc import Sequence

from rongmail.config.smtp import SmtpSettings
from rongmail.pipeline.ports import Directory
from rongmail.pipeline.stage import Stage
from rongmail.pipeline.stages.connection import ConnectionStage
from rongmail.pipeline.stages.helo import HeloStage
from rongmail.pipeline.stages.rate_limit import RateLimitStage
from rongmail.pipeline.stages.recipient import RecipientStage
from rongmail.pipeline.stages.sender import SenderStage
from rongmail.pipeline.stages.size import SizeStage
from rongmail.pipeline.stages.submission import SubmissionStage


def default_stages(
    settings: SmtpSettings,
    directory: Directory,
    *,
    hostname: str,
    data_stages: Sequence[Stage] = (),
) -> list[Stage]:
    return [
        ConnectionStage(settings),
        HeloStage(settings, hostname=hostname),
        SenderStage(directory),
        RecipientStage(settings),
        RateLimitStage(settings),
        SizeStage(settings),
        SubmissionStage(directory, hostname=hostname),
        *data_stages,
    ]


__all__ = [
    "ConnectionStage",
    "HeloStage",
    "RateLimitStage",
    "RecipientStage",
    "SenderStage",
    "SizeStage",
    "SubmissionStage",
    "default_stages",
]
