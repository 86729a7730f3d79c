"""Everything that imports PySide6. Nothing in core/, store/ or cli/ imports this package."""
