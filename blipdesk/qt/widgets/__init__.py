"""Views and dialogs: each a feature of the window, wired by qt/window.py."""
