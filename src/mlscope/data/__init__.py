"""Data: the sources a charter names, opened and checked on their values (untrusted input)."""
