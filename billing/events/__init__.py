"""The billing hand-off: events written to the outbox and their delivery."""
