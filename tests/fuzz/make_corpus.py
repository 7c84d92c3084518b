#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/): small valid files
and edge cases for each reader. Reruns give the same bytes; files named regression_* are kept
(they hold minimized crashing inputs, added by hand).
  python3 tests/fuzz/make_corpus.py
"""
import json
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"


def image(header, data=b"", pad=True):
    """A safetensors image of the JSON header text `header` (bytes) and the data buffer."""
    if pad:
        header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data


def safetensors(entries, data=b"", metadata=None, pad=True):
    """A safetensors image: entries is name -> (dtype, shape, (begin, end))."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, (dtype, shape, offsets) in entries.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": list(offsets)}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    return image(text, data, pad)


def safetensors_seeds():
    f32 = struct.pack("<4f", 1.0, -2.5, 0.0, 3.25)
    return {
        "reference_fixture": (FIXTURES / "reference_fixture.safetensors").read_bytes(),
        "peft_adapter_model": (FIXTURES / "peft_fixture" / "adapter_model.safetensors").read_bytes(),
        "empty_header": safetensors({}),
        "metadata_only": safetensors({}, metadata={"format": "pt"}),
        "null_metadata": image(b'{"__metadata__":null}'),
        "f32_2x2": safetensors({"w": ("F32", [2, 2], (0, 16))}, f32),
        "f64_scalar": safetensors({"s": ("F64", [], (0, 8))}, struct.pack("<d", -0.125)),
        "f16_bf16": safetensors({"h": ("F16", [2], (0, 4)), "b": ("BF16", [2], (4, 8))},
                                struct.pack("<4H", 0x3C00, 0x7C01, 0x3F80, 0xFF81)),
        "zero_size": safetensors({"z": ("F32", [0, 7], (0, 0))}),
        "rank5": safetensors({"r": ("F32", [1, 1, 1, 1, 1], (0, 4))}, f32[:4]),
        "unsupported_dtype": safetensors({"i": ("I32", [1], (0, 4))}, f32[:4]),
        "sub_byte_dtype": safetensors({"q": ("F4", [2], (0, 1))}, b"\x12"),
        "unpadded": safetensors({"w": ("F32", [1], (0, 4))}, f32[:4], pad=False),
        "overlap": safetensors({"a": ("F32", [2], (0, 8)), "b": ("F32", [1], (4, 8))}, f32[:8]),
        "huge_dims": safetensors({"z": ("F32", [0, 4294967296, 4294967296], (0, 0))}),
    }


def peft_seeds():
    fixture = (FIXTURES / "peft_fixture" / "adapter_config.json").read_text()
    minimal = {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "target_modules": ["q", "v"]}
    return {
        "fixture": fixture,
        "minimal": json.dumps(minimal),
        "regex_targets": json.dumps({**minimal, "target_modules": r".*\.(q|v)_proj"}),
        "gaussian_rslora": json.dumps({**minimal, "init_lora_weights": "gaussian", "use_rslora": True,
                                       "lora_dropout": 0.05}),
        "dora": json.dumps({**minimal, "use_dora": True}),
        "rank_pattern": json.dumps({**minimal, "rank_pattern": {"q": 4}}),
        "bad_regex": json.dumps({**minimal, "target_modules": "(q|v"}),
        "all_linear": json.dumps({**minimal, "target_modules": "all-linear"}),
        "not_lora": json.dumps({"peft_type": "IA3", "target_modules": ["q"]}),
        "negative_r": json.dumps({**minimal, "r": -1}),
        "not_object": "[1, 2, 3]",
    }


def jsonl_seeds():
    def line(instruction, input_, output, **extra):
        return json.dumps({"instruction": instruction, "input": input_, "output": output, **extra},
                          ensure_ascii=False)
    good = line("Name the topic", "A quote.", "science")
    return {
        "one_line": good + "\n",
        "crlf_blank_lines": good + "\r\n\r\n  \n" + line("Say it", "x", "y") + "\r\n",
        "no_final_newline": good,
        "unicode_and_escapes": line("Übersetze", "naïve \u2713 \"q\" \\ \t", "ok \U0001F600") + "\n",
        "extra_keys": line("i", "x", "y", id=7, tags=["a", {"b": None}]) + "\n",
        "empty_output": line("i", "x", "") + "\n",
        "missing_field": json.dumps({"instruction": "i", "input": "x"}) + "\n",
        "not_string": json.dumps({"instruction": "i", "input": 3, "output": "y"}) + "\n",
        "not_object": "[\"instruction\", \"input\", \"output\"]\n",
        "invalid_utf8": b'{"instruction": "\xff", "input": "x", "output": "y"}\n',
        "blank_only": " \n\t\n",
    }


# A real manifest: i_lora on the tests' synthetic workload (3 tasks), killed at step 4 of task 2.
MANIFEST = json.loads('{"base_fingerprint":"607af2c0b25b22b3","config":{"method":"i_lora","strategy":{"am_l1_lambda":0.01,"ella_lambda":100.0,"i_lora":{"consistency":1.0,"decay":0.99,"target":0},"jump":{"bandwidth":0.001,"init_log_threshold":-4.7},"lora":{"alpha":6.0,"dropout":0.1,"init":0,"r":3,"seed":0,"target_modules":["proj"],"use_rslora":false},"mixer":{"attention_dim":16,"gate":"sigmoid","null_expert":false},"moa":{"input_layer":0,"prompt_buffer":8,"router_lr":0.01,"router_steps":20,"top_k":1},"o_lora_lambda":0.5,"replay_capacity":16,"sapt":{"bottleneck":100,"pool":0,"pseudo":0,"pseudo_fraction":0.2,"reflection":1.0,"standardize":false},"seed":1},"tasks":["t1","t2","t3"],"trainer":{"batch_size":6,"clip_norm":1.0,"epochs":1,"eval_split":2,"lr":0.05,"seed":3,"steps_per_task":10,"warmup_fraction":0.05,"weight_decay":0.0},"value_type":"f32"},"everlora_version":"0.1.0","format":"everlora-run-checkpoint","generators":{"proj":15362738631823041017},"position":{"step":4,"steps":10,"task":1},"result":{"final_loss":[0.765282392501831],"r":[[50.0,37.5,47.5],[50.0,37.5,47.5],[null,null,null],[null,null,null]],"train_seconds":0.008711312992090825,"views":{"fast learner":[[50.0,37.5,47.5],[65.0,45.0,55.0],[null,null,null],[null,null,null]]}},"state_bytes":2000,"state_file":"state-00001-0000004.safetensors","state_hash":"126aca4879a54c4b","strategy":{"buffer":{"items":[[0,26],[1,7],[1,24],[0,10],[0,21],[1,21],[0,25],[0,4],[1,23],[0,37],[1,6],[0,11],[0,37],[0,4],[1,30],[0,23]],"rng":15848095249999370125,"seen":84},"inner":{}},"task_progress":{"cursor":24,"epoch":0,"tail_loss":0.0,"tail_steps":0},"threads":2,"version":1}')


def manifest_seeds():
    def variant(**changes):
        m = json.loads(json.dumps(MANIFEST))
        for path, value in changes.items():
            node = m
            keys = path.split("__")
            for key in keys[:-1]:
                node = node[key]
            node[keys[-1]] = value
        return json.dumps(m, indent=1)

    boundary = dict(position__step=0, position__steps=0, position__task=2, task_progress__tail_steps=0,
                    result__final_loss=[0.7, 0.6])
    return {
        "mid_task": json.dumps(MANIFEST, indent=1),
        "task_boundary": variant(**boundary),
        "finished": variant(position__step=0, position__steps=0, position__task=3, task_progress__tail_steps=0,
                            result__final_loss=[0.7, 0.6, 0.5]),
        "other_version": variant(version=2),
        "task_out_of_range": variant(position__task=7),
        "step_past_steps": variant(position__step=11),
        "negative_count": variant(task_progress__cursor=-1),
        "score_as_string": variant(result__r=[["50", 1, 2]] * 4),
        "short_matrix": variant(result__r=[[50.0]]),
        "no_view": variant(result__views={}),
        "state_file_path": variant(state_file="../escape.safetensors"),
        "hidden_state_file": variant(state_file=".state.safetensors"),
        "not_an_object": "[1, 2, 3]",
        "deep": "[" * 80 + "]" * 80,
    }


# The "strategy" fields of real checkpoints (tests/continual/resume_run, killed at step 4 of task 2),
# without their tensors.
STRATEGY_FIELDS = json.loads('{"replay":{"buffer":{"items":[[0,26],[1,7],[1,24],[0,10],[0,21],[1,21],[0,25],[0,4],[1,23],[0,37],[1,6],[0,11],[0,37],[0,4],[1,30],[0,23]],"rng":15848095249999370125,"seen":84}},"i_lora":{"buffer":{"items":[[0,26],[1,7],[1,24],[0,10],[0,21],[1,21],[0,25],[0,4],[1,23],[0,37],[1,6],[0,11],[0,37],[0,4],[1,30],[0,23]],"rng":15848095249999370125,"seen":84},"inner":{}},"jump_lora":{"inner":{},"mask_layers":["proj"],"mask_tasks":1,"mix":0.33333333333333337,"reset_done":true,"steps":10},"jump_lora+ella":{"inner":{},"mask_layers":["proj"],"mask_tasks":1,"mix":0.33333333333333337,"reset_done":true,"steps":10},"sapt":{"targets":[[1.0000000000000004]]},"moa":{"domains":1,"fit_accuracy":100.0},"ella":{},"i_lora+am_lora":{"buffer":{"items":[[0,26],[1,7],[1,24],[0,10],[0,21],[1,21],[0,25],[0,4],[1,23],[0,37],[1,6],[0,11],[0,37],[0,4],[1,30],[0,23]],"rng":15848095249999370125,"seen":84},"inner":{}}}')


def strategy_state_seeds():
    seeds = {}
    for method, fields in STRATEGY_FIELDS.items():
        seeds[method] = json.dumps({"method": method, "fields": fields}, indent=1)
    seeds["replay_foreign_example"] = json.dumps(
        {"method": "replay", "fields": {"buffer": {"items": [[7, 0], [0, 99]], "seen": 2, "rng": 1}}})
    seeds["replay_float_counts"] = json.dumps(
        {"method": "replay", "fields": {"buffer": {"items": [[0.5, 1e300]], "seen": -3, "rng": -1}}})
    seeds["moa_many_domains"] = json.dumps({"method": "moa", "fields": {"domains": 1e12, "fit_accuracy": "x"}})
    seeds["jump_masks_without_layers"] = json.dumps(
        {"method": "jump_lora", "fields": {"inner": {}, "steps": 10, "reset_done": True, "mix": 0.5,
                                           "mask_layers": [], "mask_tasks": 2}})
    return seeds


def tokenizer_seeds():
    """Tiny tokenizer.json files in the shapes of the real ones (byte-level BPE as GPT-2, Llama 3,
    GPT-4o; Metaspace / byte-fallback BPE as Llama 2), plus unsupported and broken ones."""
    def bytes_to_unicode():
        bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
        cs, n = bs[:], 0
        for b in range(256):
            if b not in bs:
                bs.append(b)
                cs.append(256 + n)
                n += 1
        return {b: chr(c) for b, c in zip(bs, cs)}

    b2u = bytes_to_unicode()
    letters = "abcdehilnorstw .,'0123456789\n"
    vocab = {b2u[ord(c)]: i for i, c in enumerate(letters)}
    merges = [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), ("\u0120", "w"), ("o", "r"), ("\u0120w", "or")]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    special = {"id": len(vocab), "content": "<|end|>", "special": True, "normalized": False}
    template = {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<|end|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                "special_tokens": {"<|end|>": {"id": "<|end|>", "ids": [special["id"]], "tokens": ["<|end|>"]}}}
    llama3_regex = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")

    def byte_level(pre, post=None, merges_as_pairs=False, **model):
        return json.dumps({"version": "1.0", "added_tokens": [special], "normalizer": None, "pre_tokenizer": pre,
                           "post_processor": post, "decoder": {"type": "ByteLevel"},
                           "model": dict({"type": "BPE", "vocab": vocab,
                                          "merges": [list(m) if merges_as_pairs else " ".join(m) for m in merges]},
                                         **model)}, ensure_ascii=False)

    seeds = {}
    seeds["gpt2"] = byte_level({"type": "ByteLevel", "add_prefix_space": True, "use_regex": True})
    seeds["llama3"] = byte_level(
        {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": llama3_regex}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False}]},
        template, merges_as_pairs=True, ignore_merges=True)
    seeds["gpt4o_invert"] = byte_level(
        {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": llama3_regex}, "behavior": "Removed", "invert": True},
            {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False}]},
        {"type": "Sequence", "processors": [{"type": "ByteLevel"}, template]})
    seeds["digits_split"] = byte_level(
        {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithNext", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False}]})
    seeds["hostile_regex"] = byte_level(
        {"type": "Split", "pattern": {"Regex": "(a+)+$|(?=x)|\\b"}, "behavior": "Contiguous", "invert": False})
    spm_vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "\u2581": 3, "a": 4, "b": 5, "\u2581a": 6, "ab": 7,
                 "<0xC3>": 8, "<0xA9>": 9, "<0x0A>": 10}
    spm_model = {"type": "BPE", "vocab": spm_vocab, "merges": ["\u2581 a", "a b"], "unk_token": "<unk>",
                 "fuse_unk": True, "byte_fallback": True}
    spm_added = [{"id": 0, "content": "<unk>", "special": True}, {"id": 1, "content": "<s>", "special": True},
                 {"id": 2, "content": "</s>", "special": True, "lstrip": True, "rstrip": True}]
    spm_template = {"type": "TemplateProcessing",
                    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                    "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
    seeds["llama2"] = json.dumps({
        "added_tokens": spm_added, "pre_tokenizer": None, "post_processor": spm_template, "model": spm_model,
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                           {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"},
            {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}}, ensure_ascii=False)
    seeds["metaspace"] = json.dumps({
        "added_tokens": spm_added, "normalizer": {"type": "NFC"}, "post_processor": None, "model": spm_model,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True},
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first"}}, ensure_ascii=False)
    seeds["whitespace_nfkc"] = json.dumps({
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Strip"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}, {"type": "WhitespaceSplit"}]},
        "decoder": None, "model": spm_model})
    seeds["wordpiece"] = json.dumps({"model": {"type": "WordPiece", "vocab": {"a": 0}}})
    seeds["bad_merge"] = json.dumps({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a zz"]}})
    seeds["bad_regex"] = json.dumps({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(a"},
                                                       "behavior": "Isolated"}, "model": spm_model})
    seeds["not_object"] = "[1, 2, 3]"
    return seeds


def hf_config_seeds():
    """The decoder fixtures' config.json files (every family, rope kinds, shards), and edge cases."""
    seeds = {}
    for folder in sorted((FIXTURES / "models").iterdir()):
        if (folder / "config.json").is_file():
            seeds["fixture_" + folder.name.replace("-", "_")] = (folder / "config.json").read_text()
    llama = {"model_type": "llama", "vocab_size": 32, "hidden_size": 8, "intermediate_size": 12,
             "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
             "max_position_embeddings": 16}
    gpt2 = {"model_type": "gpt2", "vocab_size": 32, "n_embd": 8, "n_layer": 1, "n_head": 2, "n_positions": 16}
    seeds["llama_minimal"] = json.dumps(llama)
    seeds["llama3_rope"] = json.dumps({**llama, "rope_scaling": {
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8}})
    seeds["llama3_rope_zero_length"] = json.dumps({**llama, "rope_scaling": {
        "rope_type": "llama3", "factor": 1.0, "low_freq_factor": 0.0, "high_freq_factor": 1e-300,
        "original_max_position_embeddings": 0}})
    seeds["gpt2_minimal"] = json.dumps(gpt2)
    seeds["gpt2_heads_do_not_divide"] = json.dumps({**gpt2, "n_head": 3})
    seeds["mistral_window"] = json.dumps({**llama, "model_type": "mistral", "sliding_window": 4})
    seeds["mistral_no_window"] = json.dumps({**llama, "model_type": "mistral", "sliding_window": None})
    seeds["qwen2_bias"] = json.dumps({**llama, "model_type": "qwen2", "use_sliding_window": False,
                                      "tie_word_embeddings": True})
    seeds["moe"] = json.dumps({**llama, "num_local_experts": 8})
    seeds["huge_vocab"] = json.dumps({**llama, "vocab_size": 1099511627776})
    seeds["layers_beyond_int"] = json.dumps({**llama, "num_hidden_layers": 4294967297})
    seeds["odd_head_dim"] = json.dumps({**llama, "head_dim": 3})
    seeds["float_shape"] = json.dumps({**llama, "hidden_size": 8.0})
    seeds["negative_eps"] = json.dumps({**llama, "rms_norm_eps": -1e-6})
    seeds["big_numbers"] = json.dumps({**llama, "rope_theta": 1.7976931348623157e308, "initializer_range": 1e300})
    seeds["number_overflow"] = json.dumps(llama)[:-1] + ', "rope_theta": 1e400}'
    seeds["unknown_type"] = json.dumps({**llama, "model_type": "bert"})
    seeds["not_object"] = "[1, 2, 3]"
    seeds["deep"] = '{"rope_scaling": ' + "[" * 80 + "]" * 80 + "}"
    return seeds


SHARD = "model-00001-of-00001.safetensors"  # the shard fuzz_shard_index puts beside the index


def shard_index_seeds():
    def index(weight_map, **extra):
        return json.dumps({"metadata": {"total_size": 16}, "weight_map": weight_map, **extra}, indent=2)
    names = ["model.norm.weight", "model.embed_tokens.weight", "lm_head.weight"]
    return {
        "fixture_llama": (FIXTURES / "models" / "llama" / "model.safetensors.index.json").read_text(),
        "one_shard": index({n: SHARD for n in names}),
        "no_metadata": json.dumps({"weight_map": {"model.norm.weight": SHARD}}),
        "empty_map": index({}),
        "map_not_object": index([SHARD]),
        "file_not_string": index({"model.norm.weight": 1}),
        "missing_shard": index({"model.norm.weight": "model-00002-of-00002.safetensors"}),
        "traversal": index({"model.norm.weight": "../" + SHARD}),
        "absolute": index({"model.norm.weight": "/etc/passwd"}),
        "dot": index({"model.norm.weight": "."}),
        "dot_dot": index({"model.norm.weight": ".."}),
        "empty_name": index({"model.norm.weight": ""}),
        "nul_in_name": index({"model.norm.weight": SHARD + "\u0000../x"}),
        "the_index_itself": index({"model.norm.weight": "model.safetensors.index.json"}),
        "long_name": index({"model.norm.weight": "x" * 300 + ".safetensors"}),
        "empty_tensor_name": index({"": SHARD}),
        "not_object": "[1, 2, 3]",
        "deep": '{"weight_map": ' + "{\"a\": " * 80 + "1" + "}" * 80 + "}",
    }


def write(target, seeds):
    folder = HERE / "corpus" / target
    if folder.exists():
        for f in folder.iterdir():
            if not f.name.startswith("regression_"):
                f.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in seeds.items():
        data = content if isinstance(content, bytes) else content.encode()
        assert len(data) <= 4096, name
        (folder / name).write_bytes(data)


if __name__ == "__main__":
    write("fuzz_safetensors", safetensors_seeds())
    write("fuzz_peft_config", peft_seeds())
    write("fuzz_jsonl", jsonl_seeds())
    write("fuzz_run_manifest", manifest_seeds())
    write("fuzz_strategy_state", strategy_state_seeds())
    write("fuzz_tokenizer_json", tokenizer_seeds())
    write("fuzz_hf_config", hf_config_seeds())
    write("fuzz_shard_index", shard_index_seeds())
