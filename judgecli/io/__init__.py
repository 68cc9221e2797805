"""Files in and out: the JSONL codec and output-file policy (``jsonl``), input records and
field mapping (``records``), ``--skip-invalid``'s rejects file (``rejects``), id identity
(``ids``) and the set of ids already judged (``idset``)."""
