"""The product offline: the demo, ``seatbot dev``, the Slack stand-in."""
