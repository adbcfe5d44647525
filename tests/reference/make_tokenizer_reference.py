#!/usr/bin/env python3
"""Trains small byte-level BPE tokenizers with HF tokenizers and records the ids
HF gives for a few thousand test strings: the reference the C++ tokenizer
(src/data/tokenizer.h) must match exactly.

Configurations, each with a different path through the tokenizer:
  llama3  Llama-3 Split regex + ByteLevel(use_regex=false), ignore_merges, special
          tokens, added tokens with lstrip/rstrip/single_word/normalized, a
          Sequence[ByteLevel, TemplateProcessing] post-processor adding BOS; also
          saved with merges in the legacy "a b" form.
  gpt2    ByteLevel(add_prefix_space, use_regex) alone, an alphabet missing some
          bytes (HF drops them), a template appending EOS.
  qwen2   NFC normalizer + Qwen2's Split regex, ByteLevel post-processor.
  tekken  Mistral-Nemo's Split regex (letter case classes and marks) + ByteLevel.
  sentencepiece, metaspace
          SentencePiece-style BPE over characters with byte fallback and <unk>, as
          Llama 2 and Mistral 7B ship it: Prepend/Replace normalizers and a
          Replace/ByteFallback/Fuse/Strip decoder, or a Metaspace pre-tokenizer and
          decoder (prepend_scheme "first").

Chat templates: HF transformers' apply_chat_template renders a few conversations
with the Jinja templates of the ChatML (Qwen2), Llama 3 and Mistral families, and
the tokenizers above encode the text; the C++ renderers (src/data/chat_template.h)
must give the same text, ids and assistant-only loss mask. ChatML also goes through
a ByteLevel(add_prefix_space=True) tokenizer and Mistral's template through a
SentencePiece-style one, whose tokens begin with spaces the text lacks.

usage: make_tokenizer_reference.py OUT_DIR
writes OUT_DIR/<name>/{tokenizer.json, reference.json} and
       OUT_DIR/chat_<format>/{tokenizer.json, tokenizer_config.json, reference.json}
"""
import json
import random
import sys
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                  r"\s*[\r\n]+|\s+(?!\S)|\s+")
# Tekken (Mistral-Nemo, the family the Apriel 15B teacher comes from): case classes and marks.
TEKKEN_PATTERN = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|"
                  r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                 r"\s*[\r\n]+|\s+(?!\S)|\s+")

WORDS = {
    "latin": "the quick brown fox jumps over lazy dog model layer attention mamba state space distillation "
             "café naïve résumé façade über straße Ærøskøbing jalapeño coöperate ÉCOLE Ñandú",
    "cyrillic": "привет мир модель слой внимание Москва ЁЖИК съешь ещё этих мягких французских булок",
    "cjk": "你好 世界 模型 注意力 状态空间 日本語のテキスト です カタカナ 한국어 텍스트 입니다",
    "arabic": "مرحبا بالعالم النموذج طبقة الانتباه שלום עולם",
    "emoji": "😀 👍🏽 👩‍👩‍👧‍👦 🇩🇪 🇯🇵 ❤️ 🧑🏿‍💻 🏳️‍🌈 ✨ 🤖",
    "code": "def f(x): return x**2 + 1; for (int i = 0; i < n; ++i) { a[i] = b[i]; } // comment "
            "#include <vector> std::vector<int> v; if x != None: print(f'{x!r}') $HOME ~/path/to/file.txt",
    "contractions": "don't can't it's we're they've I'm you'll he'd DON'T IT'S We'Re O'Neill rock'n'roll",
    "punct": "Hello, world! What?! (yes) [no] {maybe} \"quoted\" 'single' — – … « » ¿Qué? ¡Sí! 1.5% $3.14 @user #tag",
    "digits": "0 7 42 123 2024 31415926535 1000000 3.14159 1,234,567 0x1F 2^64 12345678901234567890",
    # Letters and digits of Unicode 15 and 16, which older regex tables take for unassigned: merged
    # into tokens here, so that a pre-tokenizer splitting them apart gives other ids.
    "unicode16": "\U00010d40\U00010d41 \U00010d42 \U0001e030\U0001e031 \U0001e032 \U00031350\U00031351 \U00031352",
}
SPACES = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\t\t", "    ", "\u00a0", "\u3000", "\u2009"]


def fragment(rng):
    script = WORDS[rng.choice(sorted(WORDS))]
    words = script.split(" ")
    letters = sorted(set(script) - {" "})

    def word():  # real words, and made-up ones from the same letters so that training finds many merges
        return rng.choice(words) if rng.random() < 0.6 else "".join(rng.choice(letters) for _ in range(rng.randint(2, 8)))
    return " ".join(word() for _ in range(rng.randint(1, 6)))


def line(rng):
    parts = [fragment(rng)]
    for _ in range(rng.randint(0, 4)):
        parts.append(rng.choice(SPACES) if rng.random() < 0.3 else " ")
        parts.append(fragment(rng))
    return "".join(parts)


def corpus(seed, n):
    rng = random.Random(seed)
    return [line(rng) for _ in range(n)]


def random_code_point(rng):
    blocks = [(0x20, 0x7E), (0x00, 0x1F), (0xA0, 0x24F), (0x300, 0x36F), (0x400, 0x4FF), (0x600, 0x6FF),
              (0x900, 0x97F), (0x1100, 0x11FF), (0x1800, 0x18AF), (0x2000, 0x206F), (0x3000, 0x30FF),
              (0x4E00, 0x4FFF), (0xAC00, 0xAD00), (0xFB00, 0xFFFD), (0x1F300, 0x1FAFF), (0x10000, 0x10FFFF)]
    lo, hi = rng.choice(blocks)
    while True:
        c = rng.randint(lo, hi)
        if not 0xD800 <= c <= 0xDFFF:
            return chr(c)


def test_strings(specials, added, seed):
    rng = random.Random(seed)
    fixed = ["", " ", "  ", "\t", "\n", "\r\n", " \n", "a", " a", "a ", "don't", "DON'T", "'ſ", "I'M", "'ll've",
             "\u180e", "a\u180eb", "\u00a0", "x\u00a0 y", "\u3000", "\u2028", "\u0085", "x\u200dy", "\ufeff",
             "\x00", "a\x00b", "\x7f", "\U0010ffff", "\ufffd", "\ufdd0", "\U0001F600" * 30, "1234567890" * 20,
             " " * 300, "\n" * 50, "\t \t \n", "e\u0301", "A\u030a", "\u1e9b\u0323", "가", "\u1100\u1161",
             "ﬁ", "Ⅻ", "²³", "½", "٣٤٥", "१२३", "𝟘𝟙", "👩‍👩‍👧‍👦👩‍👩‍👧‍👦", "🇩🇪🇫🇷", "a" * 500,
             "Hello World", " Hello", "hello\n\nworld", "x = [1, 2, 3]\n\tprint(x)\n", "...", "!!!???", "'''",
             "$$$ 100%", "\\n", "\\\\", "<", "<|", "|>", "<||>",
             # Unicode 15 and 16 additions (letters, a digit) that older regex tables miss, and U+180E
             # (no longer white space): HF's engine is the reference, not the machine's.
             "[/INST] \U00010d40", "a\U0001e030b c", "\U00031350x", " \U00010d40\U00010d41 12", "x \u180e y",
             "\U0001e030\U0001e031 \U00031350"]
    tokens = specials + added
    for token in tokens:
        fixed += [token, token + token, "x" + token + "y", " " + token + " ", "  " + token + "\n", token[:-1],
                  token[1:], "a " + token + " b", "\t" + token + "\t" + token + "\u2000"]
    strings = list(fixed)
    strings += corpus(seed, 1200)
    for _ in range(600):  # text with tokens spliced in
        parts = [line(rng) if rng.random() < 0.6 else rng.choice(tokens) for _ in range(rng.randint(1, 5))]
        strings.append(rng.choice(["", " ", "\n"]).join(parts))
    for _ in range(600):  # random code points, including controls and unassigned ones
        strings.append("".join(random_code_point(rng) for _ in range(rng.randint(1, 25))))
    return strings


def split_then_byte_level(pattern):
    """A Split regex (isolated) before a ByteLevel step without its own regex: Llama 3, Qwen2, Tekken."""
    return pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
                                    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])


def train(pre_tokenizer, normalizer, specials, alphabet, seed):
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=3000, special_tokens=specials, show_progress=False,
                                  initial_alphabet=alphabet)
    tok.train_from_iterator(corpus(seed, 6000) + [" ".join(WORDS.values())] * 20, trainer=trainer)
    return tok


def write_reference(out, name, tok, specials, added, seed, legacy_merges=False):
    target = out / name
    target.mkdir(parents=True, exist_ok=True)
    data = json.loads(tok.to_str())
    if legacy_merges:
        data["model"]["merges"] = [" ".join(pair) for pair in data["model"]["merges"]]
    text = json.dumps(data, ensure_ascii=False, indent=1)
    tok = Tokenizer.from_str(text)  # the references come from the file exactly as saved
    (target / "tokenizer.json").write_text(text, encoding="utf-8")

    rng = random.Random(seed + 1)
    cases = []
    for s in test_strings(specials, added, seed + 2):
        with_special = tok.encode(s, add_special_tokens=True).ids
        cases.append({"text": s, "ids": tok.encode(s, add_special_tokens=False).ids, "ids_special": with_special,
                      "decoded": tok.decode(with_special, skip_special_tokens=False),
                      "decoded_skip": tok.decode(with_special, skip_special_tokens=True)})
    size = tok.get_vocab_size(with_added_tokens=True)
    decode_cases = []
    for _ in range(500):  # arbitrary id runs: split UTF-8 sequences, unknown ids
        ids = [rng.randrange(size + 5) for _ in range(rng.randint(1, 12))]
        skip = rng.random() < 0.5
        decode_cases.append({"ids": ids, "skip": skip, "text": tok.decode(ids, skip_special_tokens=skip)})
    vocab = tok.get_vocab(with_added_tokens=True)
    reference = {"vocab_size": size, "cases": cases, "decode_cases": decode_cases,
                 "tokens": [{"token": t, "id": i} for t, i in sorted(vocab.items(), key=lambda kv: kv[1])]}
    (target / "reference.json").write_text(json.dumps(reference, ensure_ascii=True), encoding="utf-8")
    print(f"{name}: {len(cases)} strings, {len(decode_cases)} decode cases, vocab {size}")


def llama3(out):
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"]
    tok = train(split_then_byte_level(LLAMA3_PATTERN), None, specials, pre_tokenizers.ByteLevel.alphabet(), seed=1)
    # Whole words in the vocabulary that no merge sequence builds: only ignore_merges finds them.
    data = json.loads(tok.to_str())
    for word in ["Ġzzyzx", "xylophone"]:
        data["model"]["vocab"][word] = len(data["model"]["vocab"])
    tok = Tokenizer.from_str(json.dumps(data))
    added = [AddedToken("<mask>", special=True, lstrip=True, rstrip=True, normalized=False),
             AddedToken("TODO", special=False, single_word=True),
             AddedToken("café", special=False),
             AddedToken("你好世界", special=False, normalized=False),
             AddedToken("<think>", special=False, normalized=False, rstrip=True)]
    tok.add_tokens(added)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    data = json.loads(tok.to_str())
    data["model"]["ignore_merges"] = True
    tok = Tokenizer.from_str(json.dumps(data))
    contents = [t.content for t in added] + [" zzyzx", "xylophone"]
    write_reference(out, "llama3", tok, specials, contents, seed=10)
    write_reference(out, "llama3_legacy_merges", tok, specials, contents, seed=20, legacy_merges=True)


def gpt2(out):
    specials = ["<|endoftext|>"]
    # No initial alphabet: bytes absent from the corpus have no symbol.
    tok = train(pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True), None, specials, [], seed=2)
    added = [AddedToken("<|fim|>", special=True, lstrip=True)]
    tok.add_special_tokens(added)
    tok.post_processor = processors.TemplateProcessing(
        single="$A:0 <|endoftext|>:0", special_tokens=[("<|endoftext|>", tok.token_to_id("<|endoftext|>"))])
    write_reference(out, "gpt2", tok, specials, ["<|fim|>"], seed=30)


def qwen2(out):
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = train(split_then_byte_level(QWEN2_PATTERN), normalizers.NFC(), specials, pre_tokenizers.ByteLevel.alphabet(),
                seed=3)
    added = [AddedToken("Cafe\u0301", special=False, normalized=True)]  # matched in its NFC form
    tok.add_tokens(added)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    write_reference(out, "qwen2", tok, specials, ["Cafe\u0301", "Café"], seed=40)


def tekken(out):
    specials = ["<unk>", "<s>", "</s>", "[INST]", "[/INST]"]
    tok = train(split_then_byte_level(TEKKEN_PATTERN), None, specials, pre_tokenizers.ByteLevel.alphabet(), seed=7)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    write_reference(out, "tekken", tok, specials, [], seed=70)


def sentencepiece_style(pre_tokenizer, normalizer, decoder, seed):
    """BPE over characters with byte fallback and an <unk> token, as Llama 2, Mistral 7B and Gemma ship
    theirs: the 256 <0xXX> byte tokens join the vocabulary after training, BOS before the text."""
    specials = ["<unk>", "<s>", "</s>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoder
    trainer = trainers.BpeTrainer(vocab_size=3000, special_tokens=specials, show_progress=False, limit_alphabet=400)
    tok.train_from_iterator(corpus(seed, 3000) + [" ".join(WORDS.values())] * 20, trainer=trainer)
    data = json.loads(tok.to_str())
    for b in range(256):
        data["model"]["vocab"][f"<0x{b:02X}>"] = len(data["model"]["vocab"])
    tok = Tokenizer.from_str(json.dumps(data))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    return tok, specials


def sentencepiece(out):
    # Llama 2 / Mistral 7B v0.1 (tokenizers' legacy conversion): Prepend and Replace normalizers, no
    # pre-tokenizer, the decoder undoing them.
    tok, specials = sentencepiece_style(
        None, normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")]),
        decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                           decoders.Strip(" ", 1, 0)]), seed=5)
    write_reference(out, "sentencepiece", tok, specials, [], seed=50)
    # The newer conversion: a Metaspace pre-tokenizer (prepended only at the start of the text) and decoder.
    tok, specials = sentencepiece_style(
        pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False), None,
        decoders.Metaspace(replacement="\u2581", prepend_scheme="first", split=False), seed=6)
    write_reference(out, "metaspace", tok, specials, [], seed=60)


# The families' templates, cut to what training data uses (no tools, no generation tricks).
QWEN2_TEMPLATE = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
                  "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
                  "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
                  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
LLAMA3_TEMPLATE = ("{% set loop_messages = messages %}{% for message in loop_messages %}"
                   "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
                   "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
                   "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
                   "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
MISTRAL_TEMPLATE = ("{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}"
                    "{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}"
                    "{{- bos_token }}{%- for message in loop_messages %}"
                    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
                    "{{- raise_exception('roles must alternate user/assistant') }}{%- endif %}"
                    "{%- if message['role'] == 'user' %}{%- if loop.first and system_message is defined %}"
                    "{{- '[INST] ' + system_message + '\\n\\n' + message['content'] + '[/INST]' }}"
                    "{%- else %}{{- '[INST] ' + message['content'] + '[/INST]' }}{%- endif %}"
                    "{%- elif message['role'] == 'assistant' %}{{- ' ' + message['content'] | trim + eos_token }}"
                    "{%- else %}{{- raise_exception('only user and assistant roles') }}{%- endif %}{%- endfor %}")

CONVERSATIONS = [
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi there!"},
     {"role": "assistant", "content": "Hello. How can I help?"}, {"role": "user", "content": "What is 2+2?"},
     {"role": "assistant", "content": "4"}],
    [{"role": "user", "content": "Grüße aus Köln — 你好世界 😀 ¿qué?"},
     {"role": "assistant", "content": "  Привет!\u3000答え 👩‍👩‍👧‍👦\u00a0\n"}],
    [{"role": "user", "content": "Write code:\n\n"}, {"role": "assistant", "content": "\ndef f(x):\n\treturn x**2\n\n"},
     {"role": "user", "content": " thanks "}, {"role": "assistant", "content": "You're welcome!"}],
]
CHATML_ONLY = [[{"role": "system", "content": "S"}, {"role": "user", "content": "call it"},
                {"role": "tool", "content": "{\"ok\": true}"}, {"role": "assistant", "content": "Done: ok."}]]


def expected_mask(text, offsets, messages, trained_text):
    """Tokens whose characters touch the text an assistant turn trains on, found by searching the rendered text."""
    spans, at = [], 0
    for message in messages:
        if message["role"] != "assistant":
            continue
        piece = trained_text(message["content"])
        begin = text.index(piece, at)
        spans.append((begin, begin + len(piece)))
        at = begin + len(piece)
    return [int(any(b < end and begin < e for b, e in spans)) for begin, end in offsets]


def chat_reference(out, name, source, template, specials, config, conversations, trained_text):
    from transformers import PreTrainedTokenizerFast
    target = out / f"chat_{name}"
    target.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer.from_file(str(out / source / "tokenizer.json"))
    if specials:
        tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    tok.save(str(target / "tokenizer.json"))
    (target / "tokenizer_config.json").write_text(json.dumps(dict(config, chat_template=template), indent=1))
    hf = PreTrainedTokenizerFast(tokenizer_file=str(target / "tokenizer.json"), chat_template=template, **config)
    cases = []
    for messages in conversations:
        text = hf.apply_chat_template(messages, tokenize=False)
        encoding = tok.encode(text, add_special_tokens=False)
        cases.append({"messages": messages, "text": text, "ids": encoding.ids,
                      "trains": expected_mask(text, encoding.offsets, messages, trained_text)})
    # Prompts to generate from: every prefix of a conversation that ends with a user message.
    prompts = []
    for messages in conversations:
        for end, message in enumerate(messages):
            if message["role"] == "user":
                text = hf.apply_chat_template(messages[:end + 1], tokenize=False, add_generation_prompt=True)
                prompts.append({"messages": messages[:end + 1], "text": text,
                                "ids": tok.encode(text, add_special_tokens=False).ids})
    (target / "reference.json").write_text(json.dumps({"cases": cases, "prompts": prompts}, ensure_ascii=True))
    print(f"chat_{name}: {len(cases)} conversations, {len(prompts)} generation prompts")


def chat_templates(out):
    chat_reference(out, "chatml", "qwen2", QWEN2_TEMPLATE, [], {"eos_token": "<|im_end|>"},
                   CONVERSATIONS + CHATML_ONLY, lambda c: c + "<|im_end|>")
    chat_reference(out, "llama3", "llama3", LLAMA3_TEMPLATE, [],
                   {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}, CONVERSATIONS + CHATML_ONLY,
                   lambda c: c.strip() + "<|eot_id|>")
    chat_reference(out, "mistral", "llama3", MISTRAL_TEMPLATE, ["<s>", "</s>", "[INST]", "[/INST]"],
                   {"bos_token": "<s>", "eos_token": "</s>"}, CONVERSATIONS, lambda c: " " + c.strip() + "</s>")
    # Mistral 7B's own kind of tokenizer: SentencePiece-style, a "▁" prepended to every piece of text.
    chat_reference(out, "mistral_sentencepiece", "sentencepiece", MISTRAL_TEMPLATE, ["[INST]", "[/INST]"],
                   {"bos_token": "<s>", "eos_token": "</s>"}, CONVERSATIONS, lambda c: " " + c.strip() + "</s>")
    # ByteLevel(add_prefix_space=True) over the whole byte alphabet: every piece between special tokens
    # gets a space the text lacks.
    prefixed = train(pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True), None, ["<|endoftext|>"],
                     pre_tokenizers.ByteLevel.alphabet(), seed=4)
    (out / "prefix_space").mkdir(parents=True, exist_ok=True)
    prefixed.save(str(out / "prefix_space" / "tokenizer.json"))
    chat_reference(out, "chatml_prefix_space", "prefix_space", QWEN2_TEMPLATE, ["<|im_start|>", "<|im_end|>"],
                   {"eos_token": "<|im_end|>"}, CONVERSATIONS + CHATML_ONLY, lambda c: c + "<|im_end|>")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    llama3(out)
    gpt2(out)
    qwen2(out)
    tekken(out)
    sentencepiece(out)
    chat_templates(out)


if __name__ == "__main__":
    main()
