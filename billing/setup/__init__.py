"""Setting accounts up as the operator's accounts file describes them."""
