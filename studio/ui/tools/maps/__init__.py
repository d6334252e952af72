"""The Maps dock: keypoint heatmaps, mask, dense maps and the sampled pyramid level."""
