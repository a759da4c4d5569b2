"""Incident response: surge detection, levels, playbooks, mass actions, the audit chain, the outbox, status text."""
