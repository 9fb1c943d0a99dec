"""Reconciliation runs and the daily digest."""
