"""The API judge: OpenAI or any compatible server (``judge``), sending with retries and
pacing (``http``, ``ratelimit``), the Batch API (``batch``, ``batch_files``), logprobs read
as verdict probabilities (``token_probs``), prices (``pricing``) and the reply cache
(``cache``). Importing this package does not import openai."""
