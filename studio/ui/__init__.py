"""Qt user interface (and the Qt-free scene pieces the views and snapshots share)."""
