"""The body model explorer: shape sliders, pose presets, exports and snapshots."""
