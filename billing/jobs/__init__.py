"""Claiming scheduled work in the database, so that it is done once."""
