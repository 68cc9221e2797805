"""The fixed values of options, apart from the modules that act on them, so that the CLI can
list and check them without importing the judging machinery (``report`` in a shell loop)."""

MODES = ("auto", "score", "explain")  # judging.resolve_mode
COMBINE_RULES = ("strict", "average")  # debias.combine
VOTES = ("majority", "mean", "unanimous")  # panel.Panel
