"""Backend-neutral SQL operations (sans-IO generators; see ``q.py``)."""
