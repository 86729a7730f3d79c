"""Controllers: each owns one feature of the window and talks to it through narrow collaborators."""
