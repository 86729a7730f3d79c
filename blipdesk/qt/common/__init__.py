"""What every part of the Qt shell shares: item roles, score wording, label marks, the theme."""
