"""Torch modules only: backbones, mesh regressors and the geometry they share."""
