"""vLLM's offline engine as a judge backend (``--judge vllm:MODEL``); see ``judge.py``."""
