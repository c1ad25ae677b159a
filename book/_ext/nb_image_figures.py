"""Caption only the image output of a notebook cell.

MyST-NB 1.x wraps *every* display output of a code cell in the figure described
by the cell's ``mystnb.figure`` metadata. A cell that draws a plot and then shows
a table (``df.round(4)`` as its last line) would get two figures with the same
caption and the same label, and the second label is a duplicate (a warning,
so an error under ``-W``). This extension renders the figure options only for
outputs that carry an image; every other output of the cell is rendered as if
the cell had no figure metadata.

It wraps ``SphinxNbRenderer._render_nb_cell_code_outputs`` (myst-nb 1.4, pinned
in requirements.lock) and calls the original once per output.
"""

from __future__ import annotations

import copy

from myst_nb import sphinx_ as _mystnb_sphinx

_ORIGINAL = getattr(_mystnb_sphinx.SphinxNbRenderer, "_render_nb_cell_code_outputs", None)
if _ORIGINAL is None:  # pragma: no cover - a myst-nb upgrade renamed the hook
    raise ImportError("nb_image_figures needs myst-nb 1.x (SphinxNbRenderer._render_nb_cell_code_outputs)")


def _has_image(output) -> bool:
    return output.get("output_type") in ("display_data", "execute_result") and any(
        mime.startswith("image/") for mime in output.get("data", {})
    )


def _render_outputs(self, token, outputs):
    metadata = token.meta["metadata"]
    key = self.nb_config.cell_metadata_key  # "mystnb"
    if not isinstance(metadata.get(key), dict) or "figure" not in metadata[key]:
        return _ORIGINAL(self, token, outputs)
    plain = copy.deepcopy(metadata)
    del plain[key]["figure"]
    try:
        for output in outputs:
            token.meta["metadata"] = metadata if _has_image(output) else plain
            _ORIGINAL(self, token, [output])
    finally:
        token.meta["metadata"] = metadata
    return None


def setup(app):
    app.setup_extension("myst_nb")
    _mystnb_sphinx.SphinxNbRenderer._render_nb_cell_code_outputs = _render_outputs
    return {"parallel_read_safe": True, "parallel_write_safe": True}
