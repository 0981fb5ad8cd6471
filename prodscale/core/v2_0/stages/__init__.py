"""Engine 2.0.0's stages: the calling convention of :mod:`prodscale.core.stages`, over the scene
model of :mod:`prodscale.core.v2_0.reading`. Where 2.0.0 does what 1.x does, it calls 1.x's frozen
functions; where it differs, the code is here (1.x code paths are never edited)."""
