"""Reading, validating, scoring and reshaping session tables (see the submodules)."""
