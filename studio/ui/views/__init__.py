"""Views shared by the windows: the 2D image view, the 3D mesh view on its VTK canvas,
the body scene both 3D views draw, the iteration scrubber and small widget helpers."""
