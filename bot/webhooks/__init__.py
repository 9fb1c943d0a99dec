"""The billing hand-off over HTTP: destinations, signing, the sender, notices."""
