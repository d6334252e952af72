"""The PointHMR tool: vertex heat-maps, their links to the 3D mesh, attention per block, PyMAF comparison."""
