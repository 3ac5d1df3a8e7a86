"""One module per page; each has a ``render()`` that draws the page (called by the page scripts)."""
