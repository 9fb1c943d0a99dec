"""Approval by managers: deciding, and what time does to pending requests."""
