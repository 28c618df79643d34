"""taxonomy: HTTP views."""
