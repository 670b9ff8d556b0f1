"""Directory: the organization tree (regions, branches), people, credentials and sign-in."""
SERVICE = "directory"
