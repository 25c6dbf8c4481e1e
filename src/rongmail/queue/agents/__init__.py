"""Delivery agents: ``local`` (into mailboxes through actions), ``smtp_remote`` (MX delivery
with MTA-STS and DANE) and ``relay`` (smart-host routes with AUTH and a source address)."""

from rongmail.queue.agents.base import DeliveryAgent, DeliveryJob, Outcome

__all__ = ["DeliveryAgent", "DeliveryJob", "Outcome"]
