#!/usr/bin/env python3
"""Trains the sub-word tokenizer of everlora's bundled base model and writes it the Hugging Face way.

sentencepiece (Debian's 0.1.97) learns a BPE vocabulary on CORPUS (UTF-8, one document per line):
byte fallback, digits split, identity normalization (no NFKC), a dummy "▁" prefix, whitespace kept
as is, <unk> 0, <s> 1, </s> 2, no pad. The model is laid out as transformers' LlamaConverter
(Llama 2 style, convert_slow_tokenizer.py) does, so that a Hugging Face tokenizer gives the ids that
sentencepiece gives:

  OUT/tokenizer.json           vocab = every piece in id order (with <0x00>..<0xFF>); merges = every
                               split of a piece into two pieces, ordered by the piece's score, then
                               by the parts' ids (transformers 4.3x's SentencePieceExtractor.extract,
                               which made Llama 2's file); Prepend + Replace
                               normalizer, <s>-first TemplateProcessing, Replace/ByteFallback/Fuse/
                               Strip decoder: the key order and layout of Llama 2's file
  OUT/tokenizer_config.json    add_bos_token true, legacy true (tokenizer.json's normalizer is used
                               as is: "▁" is prepended to each stretch of text between special
                               tokens, as sentencepiece prepends it to each text it encodes)
  OUT/special_tokens_map.json

The sentencepiece .model itself stays in a temporary folder. Training is deterministic: the same
corpus and options give the same files. sentencepiece 0.1.97 samples --input-sentence-size lines
with a fixed seed of its own; --seed is handed to set_random_generator_seed all the same and draws
the golden strings.

--golden FILE writes a JSONL file for tests/data/tokenizer_golden_test.cpp in the layout of
tests/fixtures/tokenizers/llama2.jsonl: a meta line, then {"text", "ids", "ids_plain", "decoded",
"decoded_skip"} per string: fixed hard cases, then --golden-count pieces of corpus lines (whole or
cut, at most 300 bytes) drawn with --seed. ids are sentencepiece's, <s> first; <unk>, <s> and </s>
written in the text are split out first and encoded as themselves, as Hugging Face does with special
added tokens. decoded / decoded_skip follow tokenizer.json's decoder chain (what @lenml/tokenizers
and the Rust library give; sentencepiece's own decode drops <s> and differs around "▁").

Runs offline; it is not part of the test suite. Needs /usr/bin/python3 with Debian's
python3-sentencepiece. Rerun:

    /usr/bin/python3 tools/train_base_tokenizer.py --corpus FILE --out DIR [--vocab-size 8192]
        [--seed 1] [--golden FILE] [--golden-count 2000] [--threads 2] [--input-sentence-size 2000000]
"""

import argparse
import hashlib
import json
import random
import re
import tempfile
from pathlib import Path

import sentencepiece as spm

SPECIALS = ("<unk>", "<s>", "</s>")  # ids 0, 1, 2
BOS_ID = 1
SPACE = "\u2581"
GOLDEN_MAX_BYTES = 300
SPECIALS_RE = re.compile("(" + "|".join(re.escape(s) for s in SPECIALS) + ")")
BYTE_PIECE_RE = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--corpus", required=True, type=Path, help="UTF-8 text, one document per line")
    p.add_argument("--out", required=True, type=Path, help="folder for tokenizer.json and its configs")
    p.add_argument("--vocab-size", type=int, default=8192)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--golden", type=Path, help="also write this JSONL golden file")
    p.add_argument("--golden-count", type=int, default=2000, help="corpus strings in the golden file")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--input-sentence-size", type=int, default=2000000, help="lines sampled for training")
    return p.parse_args()


# ---- training ---------------------------------------------------------------------------------------

def train(args, model_dir):
    """Trains the BPE model into model_dir/base.model; returns the loaded processor."""
    spm.set_random_generator_seed(args.seed)
    spm.SentencePieceTrainer.train(
        input=str(args.corpus), model_prefix=str(model_dir / "base"), model_type="bpe",
        vocab_size=args.vocab_size, character_coverage=0.9995, byte_fallback=True, split_digits=True,
        normalization_rule_name="identity", add_dummy_prefix=True, remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        unk_piece=SPECIALS[0], bos_piece=SPECIALS[1], eos_piece=SPECIALS[2],
        input_sentence_size=args.input_sentence_size, shuffle_input_sentence=True,
        num_threads=args.threads, minloglevel=1)
    return spm.SentencePieceProcessor(model_file=str(model_dir / "base.model"))


# ---- tokenizer.json ---------------------------------------------------------------------------------

def vocab_scores(sp):
    """(piece, score) in id order; LlamaConverter.vocab gives the three specials score 0."""
    return [(sp.id_to_piece(i), 0.0 if i < len(SPECIALS) else sp.get_score(i))
            for i in range(sp.get_piece_size())]


def extract_merges(scores):
    """SentencePieceExtractor.extract(vocab_scores): for every piece, each split into two pieces of
    the vocab (ordered by the parts' ids), all ordered by the piece's score, highest first (stable)."""
    vocab = {piece: i for i, (piece, _) in enumerate(scores)}
    merges = []
    for piece, score in scores:
        splits = [(piece[:k], piece[k:]) for k in range(1, len(piece))]
        splits = sorted((vocab[left], vocab[right], left, right) for left, right in splits
                        if left in vocab and right in vocab)
        merges += [(left, right, score) for _, _, left, right in splits]
    merges.sort(key=lambda m: m[2], reverse=True)
    return [f"{left} {right}" for left, right, _ in merges]


def added_token(i, content):
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}


def special_token(token_id, type_id):
    return {"SpecialToken": {"id": token_id, "type_id": type_id}}


def sequence(seq_id, type_id):
    return {"Sequence": {"id": seq_id, "type_id": type_id}}


def tokenizer_json(sp):
    scores = vocab_scores(sp)
    bos = SPECIALS[BOS_ID]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added_token(i, s) for i, s in enumerate(SPECIALS)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": SPACE},
            {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}]},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special_token(bos, 0), sequence("A", 0)],
            "pair": [special_token(bos, 0), sequence("A", 0), special_token(bos, 1), sequence("B", 1)],
            "special_tokens": {bos: {"id": bos, "ids": [BOS_ID], "tokens": [bos]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": SPECIALS[0], "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True,
            "vocab": {piece: i for i, (piece, _) in enumerate(scores)},
            "merges": extract_merges(scores)},
    }


def token_dict(content):
    return {"content": content, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}


def tokenizer_config():
    return {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": {str(i): {**token_dict(s), "special": True} for i, s in enumerate(SPECIALS)},
        "additional_special_tokens": [],
        "bos_token": SPECIALS[1],
        "clean_up_tokenization_spaces": False,
        "eos_token": SPECIALS[2],
        "legacy": True,
        "model_max_length": 1024,
        "pad_token": None,
        "tokenizer_class": "LlamaTokenizerFast",
        "unk_token": SPECIALS[0],
    }


def special_tokens_map():
    return {"bos_token": token_dict(SPECIALS[1]), "eos_token": token_dict(SPECIALS[2]),
            "unk_token": token_dict(SPECIALS[0])}


def write_tokenizer(sp, out):
    """tokenizer.json as the Rust library saves it (no final newline); the configs as transformers
    saves them (sorted keys, final newline)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer.json").write_text(json.dumps(tokenizer_json(sp), indent=2, ensure_ascii=False), "utf-8")
    configs = {"tokenizer_config.json": tokenizer_config(), "special_tokens_map.json": special_tokens_map()}
    for name, obj in configs.items():
        (out / name).write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")


# ---- golden file ------------------------------------------------------------------------------------

def hard_cases():
    """Edge cases. No U+FEFF: the reference (@lenml/tokenizers) decodes byte pieces with JavaScript's
    TextDecoder, which drops a leading BOM; the Rust library keeps it."""
    return [
        "", " ", "  ", "   ", "\t", "\n", "\r\n", "\r", " \n ", "\t\t", "\n\n\n", "a", "A", "0", ".",
        "Hello world", " Hello", "Hello ", "   leading", "trailing   ", " both ", "a  b   c    d",
        "tab\tseparated\tvalues", "line one\nline two\n", "\n\nnewlines\n\n", " \t \n mixed \r\n ",
        "0123456789", "1984", "3.14159", "1,000,000", "12345678901234567890", "x1y22z333", "v2.0.1-rc3",
        "Hello, world! How's it going? (Fine.) [ok] {yes} <no>...", "--- *** ### @@@ %%% ^^^ ~~~ ``` |||",
        "\"quoted\" 'single' «guillemets» „low“ ‘curly’ — – …", "a+=b;c-=d;e*=f;", "https://example.com/a?q=1&r=2#x",
        "I'm sure it's fine, isn't it? We'll see; they'd've known.", "def f(x):\n    return x**2\n",
        "café naïve résumé Ångström façade", "e\u0301 vs \u00e9 and A\u030a vs \u00c5", "a\u0300\u0301\u0302\u0303",
        "Ünïcödé ñ ç ø å ß œ", "Привет, мир!", "Γειά σου Κόσμε", "こんにちは世界", "中文字符测试", "안녕하세요 세계",
        "مرحبا بالعالم", "नमस्ते दुनिया", "ﬁ ﬂ ① ² ½ Ⅻ ｈｅｌｌｏ", "👍🏽👨‍👩‍👧‍👦🇫🇷❤️‍🔥", "😀" * 10, "\u200b\u200c\u200d",
        "\u00a0nbsp\u3000ideographic\u2009thin\u2028sep", "\x00", "a\x00b", "\x7f\x01\x1f",
        "\x1b[31mred\x1b[0m", "<s>", "</s>", "<unk>", "<s>Hello</s>", " <s> ", "a<s>b", "<s><s></s>",
        "<s>\n</s>", "x </s> y", "<s", "s>", "</s", "<<s>>", "<0x41>", "<0x0A>", SPACE, SPACE * 2,
        f"{SPACE}Hello {SPACE}world", "x" * 300, "antidisestablishmentarianism" * 8,
        "pneumonoultramicroscopicsilicovolcanoconiosis", "ab" * 80, " " * 100, "\n" * 20, "1234567890" * 5,
    ]


def cut_to_bytes(text, limit):
    while len(text.encode("utf-8")) > limit:
        text = text[:-1]
    return text


def corpus_strings(corpus, count, seed):
    """count distinct strings drawn with seed: whole lines, or cuts of them, at most 300 bytes."""
    lines = [line for line in corpus.read_text("utf-8").splitlines() if line]
    rng = random.Random(seed)
    picked = {}
    for _ in range(100 * count):  # bounded, for a corpus with too few distinct cuts
        if len(picked) == count:
            break
        line = rng.choice(lines)
        if rng.random() < 0.5 or len(line.encode("utf-8")) > GOLDEN_MAX_BYTES:
            length = rng.randint(1, min(len(line), GOLDEN_MAX_BYTES))
            start = rng.randint(0, len(line) - length)
            line = line[start:start + length]
        picked[cut_to_bytes(line, GOLDEN_MAX_BYTES)] = None
    return list(picked)


def encode(sp, text, add_bos):
    """sentencepiece ids; <unk>, <s>, </s> in the text are split out first (Hugging Face's special
    added tokens) and the text between them is encoded piece by piece."""
    ids = [BOS_ID] if add_bos else []
    for part in SPECIALS_RE.split(text):
        ids += [SPECIALS.index(part)] if part in SPECIALS else sp.encode(part)
    return ids


def decode(sp, ids, skip_special):
    """tokenizer.json's decoder: Replace ▁ → " ", ByteFallback, Fuse, Strip one leading space."""
    tokens = [sp.id_to_piece(i) for i in ids if not (skip_special and i < len(SPECIALS))]
    out, pending = [], bytearray()
    for token in (t.replace(SPACE, " ") for t in tokens):
        byte = BYTE_PIECE_RE.fullmatch(token)
        if byte:
            pending.append(int(byte.group(1), 16))
            continue
        out.append(flush_bytes(pending))
        out.append(token)
    out.append(flush_bytes(pending))
    text = "".join(out)
    return text[1:] if text.startswith(" ") else text


def flush_bytes(pending):
    """ByteFallback: a run of byte pieces is its UTF-8 text, else one U+FFFD per byte."""
    try:
        text = pending.decode("utf-8")
    except UnicodeDecodeError:
        text = "\ufffd" * len(pending)
    pending.clear()
    return text


def golden_row(sp, text):
    ids = encode(sp, text, True)
    row = {"text": text, "ids": ids, "ids_plain": ids[1:]}
    decoded, skipped = decode(sp, ids, False), decode(sp, ids, True)
    if decoded != text:
        row["decoded"] = decoded
    if skipped != decoded:
        row["decoded_skip"] = skipped
    return row


def write_golden(sp, args):
    texts = list(dict.fromkeys(hard_cases() + corpus_strings(args.corpus, args.golden_count, args.seed)))
    meta = {
        "tokenizer": f"tools/train_base_tokenizer.py --vocab-size {args.vocab_size} --seed {args.seed}",
        "corpus_sha256": hashlib.sha256(args.corpus.read_bytes()).hexdigest(),
        "reference": f"sentencepiece@{spm.__version__}",
        "strings": len(texts),
        "seed": args.seed,
        "keys": "ids: encode(text), <s> first; ids_plain: encode(text, add_special_tokens=false); "
                "<unk>, <s>, </s> in the text are special tokens; decoded: decode(ids) if != text; "
                "decoded_skip: decode(ids, skip_special_tokens) if != decoded; tokenizer.json's decoder, "
                "clean_up_tokenization_spaces off",
    }
    lines = [{"meta": meta}] + [golden_row(sp, t) for t in texts]
    args.golden.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(x, ensure_ascii=False, separators=(",", ":")) + "\n" for x in lines)
    args.golden.write_text(text, "utf-8")
    print(f"{args.golden}: {len(texts)} strings")


def main():
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="everlora_tok_") as tmp:
        sp = train(args, Path(tmp))
    write_tokenizer(sp, args.out)
    print(f"{args.out}: vocab {sp.get_piece_size()}")
    if args.golden:
        write_golden(sp, args)


if __name__ == "__main__":
    main()
