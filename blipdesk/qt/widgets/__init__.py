"""Views and dialogs. main_window.py composes and wires them."""
