"""segbench's built-in plugins, registered through the same hooks as any other."""

from ..plugins import hookimpl


@hookimpl
def segbench_register_segmenters():
    from .otsu_watershed import OtsuWatershed

    return [OtsuWatershed]


@hookimpl
def segbench_register_generators():
    from .procedural import Procedural

    return [Procedural]


@hookimpl
def segbench_register_datasets():
    from .dsb2018 import DSB2018Sample

    return [DSB2018Sample]
