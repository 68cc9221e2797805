"""The local judge: any model ``transformers`` loads (``judge``), found and loaded by
``loading`` (folders, hub ids, GGUF files), its score lines as token sequences
(``score_lines``). Importing this package imports neither torch nor transformers."""
