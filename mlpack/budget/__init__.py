"""Budgets: their specs, verdicts, and ``check``, which measures what the budgets need."""
