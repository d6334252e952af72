"""Scene-aware pose generation in the studio window."""
