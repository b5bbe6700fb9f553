"""The anatomical model: structure registry, parametric generator, loading, measurement."""
