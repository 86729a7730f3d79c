"""Work off the GUI thread: the inference worker, thumbnails, folder listing."""
