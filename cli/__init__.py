"""The `deflect` command groups; bootstrap.py assembles them into one Typer tree."""
