"""Per-channel rule sets as YAML data; a package only so that wheel builds ship the files."""
