"""Use cases both shells share: settings to options, XMP sidecars, export, ratings, filters, smart views, teach jobs."""
