"""blipdesk: local, private, sentence-based photo tagging with BLIP image-text matching."""

__version__ = "0.1.0"
