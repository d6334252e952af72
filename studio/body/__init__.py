"""Body models behind one interface: SMPL (via smplx) and the built-in mannequin."""
