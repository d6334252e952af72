"""Human Mesh Studio."""
