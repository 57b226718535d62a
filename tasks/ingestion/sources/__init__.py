"""Source modules: each defines ``SOURCE``; the registry lists every module here."""
