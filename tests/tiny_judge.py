"""Build tiny Llama-architecture judges locally: a byte-level BPE tokenizer trained here and
random (or briefly trained) weights, saved like any checkpoint and loaded through
``from_pretrained``. Nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "You are a helpful and precise assistant for checking the quality of the answer.",
    "[Question]\n[Reference Answer]\n[The Start of Assistant 1's Answer]\n[System]\n",
    "We would like to request your feedback on the performance of two AI assistants.",
    "### Response:10 7\n### Response:9 3\nAssistant 1 gave a better answer than Assistant 2.",
    "Below are two responses for a given task. ### Instruction: ### Input: ### Evaluation:\n",
    "1\n2\nTie\n[[A]] [[B]] [[C]] Rating: [[5]]",
    "What is the capital of France? Paris is the capital. The answer is correct.",
    "The quick brown fox jumps over the lazy dog. 0 1 2 3 4 5 6 7 8 9 10",
]

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def build_tokenizer(vocab_size: int = 512, corpus: list[str] | None = None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # Digits one by one (as Llama's tokenizer does), so "10" is two tokens.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size,
                                  special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator((corpus or CORPUS) * 4, trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A",
                                                       special_tokens=[("<s>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", pad_token="<pad>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(tokenizer, *, hidden: int = 64, layers: int = 2, heads: int = 4,
                kv_heads: int = 2, intermediate: int = 128, seed: int = 0,
                max_positions: int = 4096):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden,
                         intermediate_size=intermediate, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=kv_heads,
                         max_position_embeddings=max_positions,
                         bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    model = LlamaForCausalLM(config)
    # Random weights at the default scale give nearly flat distributions; a larger scale
    # makes the tiny judge opinionated, so its choices are not near-ties.
    with torch.no_grad():
        model.lm_head.weight.mul_(20.0)
    return model


def save_tiny_judge(path: str | Path, *, seed: int = 0, **kwargs) -> Path:
    path = Path(path)
    tokenizer = build_tokenizer()
    model = build_model(tokenizer, seed=seed, **kwargs)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
