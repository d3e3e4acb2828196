"""segbench entry point (group ``segbench``, name ``gan``): registers the generator ``gan`` and the ``segbench gan`` commands."""

from segbench import kit

from .cli import add_parser
from .generator import GanGenerator

plugin = kit.plugin(GanGenerator, commands=add_parser)
