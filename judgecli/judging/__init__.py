"""Judging: items in, judgment records out, with one judge.

``core`` turns an item into its requests and the judge's replies into a record (swap
debiasing in ``debias``, the verdict's probability in ``confidence``, the out-of-domain
indicator in ``indicators``); ``runner`` streams a file through it (``resume``: what
``--resume`` may append to; ``distributed``: one shard per process; ``summary``: the run's
counts). ``choices`` holds the option values every layer above may name.
"""
