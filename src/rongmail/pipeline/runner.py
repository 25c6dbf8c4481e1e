"""Run the stages of one checkpoint in order and record why (DESIGN.md house rule 6).

The first REJECT or TEMPFAIL stops the run (later stages would only add cost); JUNK and
ACCEPT verdicts accumulate, so every detection header and tag reaches delivery. A stage that
raises a :class:`rongmail.errors.MailError` becomes a TEMPFAIL with the error's key as reason; a
stage that raises anything else is a bug, logged, and also fails temporarily (mail is never lost
or wrongly accepted because a stage broke).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rongmail.errors import MailError
from rongmail.pipeline.envelope import Envelope
from rongmail.pipeline.stage import Checkpoint, Stage, Verdict, tempfail

log = logging.getLogger(__name__)


class Runner:
    def __init__(self, stages: Sequence[Stage]) -> None:
        self._stages = tuple(stages)
        self._by_point: dict[Checkpoint, tuple[Stage, ...]] = {
            point: tuple(s for s in self._stages if point in s.checkpoints) for point in Checkpoint
        }

    @property
    def stages(self) -> tuple[Stage, ...]:
        return self._stages

    async def run(self, point: Checkpoint, env: Envelope) -> Verdict:
        verdicts: list[Verdict] = []
        for stage in self._by_point[point]:
            try:
                verdict = await stage.check(point, env)
            except MailError as e:
                log.warning("stage %s failed at %s: %s", stage.name, point.value, e)
                verdict = tempfail(stage.name, e.key, e.detail)
            except Exception:
                log.exception("stage %s crashed at %s", stage.name, point.value)
                verdict = tempfail(stage.name, "stage.crashed")
            verdicts.append(verdict)
            if verdict.refused:
                break
        result = Verdict.merge(verdicts)
        if result.reasons:
            log.info(
                "pipeline %s session=%s action=%s reasons=%s",
                point.value,
                env.session_id,
                result.action.name,
                ",".join(f"{r.stage}:{r.code}" for r in result.reasons),
            )
        return result
