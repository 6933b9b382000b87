"""Privacy: consent per purpose with its proof, a person's export, erasure, retention of raw
tracking data, and the log of who saw or changed someone's personal data (issue 9)."""
