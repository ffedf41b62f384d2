"""Placeholder: the command line lands with xbuf.check."""
