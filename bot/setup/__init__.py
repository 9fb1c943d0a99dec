"""The operator's accounts file: read, validated, loaded."""
