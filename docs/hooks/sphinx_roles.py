"""griffe extension: show the Sphinx roles of thermoep's docstrings as inline code.

The docstrings are Google style with Markdown, but some cross-references are Sphinx roles
(``:class:`~thermoep.Gradient```, ``:meth:`scaled_units```), which Markdown prints verbatim.
Each becomes the code span Sphinx would display: the last component for ``~``, the name as
written otherwise. A docstring that uses Markdown cross-references is left unchanged.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):`(~?)\.?([^`]+)`")


def _code_span(match: re.Match) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


class SphinxRoles(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(_code_span, obj.docstring.value)
