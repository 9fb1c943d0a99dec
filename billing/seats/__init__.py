"""Seat changes: requesting, confirming, cancelling; reading an account."""
