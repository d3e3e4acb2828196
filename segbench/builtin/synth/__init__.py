"""Building blocks of the ``procedural`` generator.

- :mod:`.shapes`: star-convex object shapes (spline-perturbed ellipses and
  ellipsoids) and their rasterisation inside a bounding box.
- :mod:`.layout`: placing objects in a label image, random or clustered, with a
  requested fraction of touching objects.
- :mod:`.fields`: smooth random fields (fractal value noise) and uneven
  illumination.
- :mod:`.optics`: Gaussian PSF blur and the camera (shot noise, gain, read
  noise, offset, uint16 quantisation).
- :mod:`.spots`: fluorescent spots from Gaussian point clouds inside objects.
- :mod:`.checks`: parameter validation with messages naming the parameter.
- :mod:`.estimate`: direct estimates of the parameters from annotated images.
- :mod:`.calibrate`: removing those estimates' bias by simulation (the fit).
"""
