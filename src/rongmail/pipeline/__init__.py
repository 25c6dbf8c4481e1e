"""Inbound pipeline: ordered, stateless stages that return verdicts (DESIGN.md house rule 6).

``envelope.py`` holds the immutable facts a stage sees, ``stage.py`` the stage contract and the
:class:`~rongmail.pipeline.stage.Verdict`, ``runner.py`` runs the stages of one checkpoint and
records why; ``ports.py`` names what the pipeline needs from the directory, authentication and
delivery; ``stages/`` has one stage per file.
"""
