"""The PoseAug dock: the shown person's pose augmented (BA, BL, RT), scored by the
discriminators, shown in 2D and 3D, and exported."""
