// everlora — cross-checks a golden file written by tools/train_base_tokenizer.py (sentencepiece's
// ids) against the Hugging Face side: loads DIR/tokenizer.json + tokenizer_config.json with
// @lenml/tokenizers (a port of transformers.js, from scripts/setup.sh's npm cache) and compares
// every golden row (ids, ids_plain, decoded, decoded_skip) with what it gives. Offline, not part of
// the test suite:
//   node tools/check_tokenizer_golden.mjs models/everlora-base tests/fixtures/tokenizers/everlora-base.jsonl
import fs from "node:fs";
import path from "node:path";
const [dir, golden] = process.argv.slice(2);
const lenml = path.join(process.env.HOME, ".cache/everlora/npm/node_modules/@lenml/tokenizers");
const { TokenizerLoader } = await import(path.join(lenml, "dist", "main.mjs"));
const tok = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8")),
  tokenizerConfig: JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8")),
});
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
let rows = 0, ok = 0, roundtrip = 0;
const bad = {ids: 0, ids_plain: 0, decoded: 0, decoded_skip: 0};
for (const line of fs.readFileSync(golden, "utf8").split("\n")) {
  if (!line) continue;
  const r = JSON.parse(line);
  if (r.meta) continue;
  ++rows;
  const ids = tok.encode(r.text), plain = tok.encode(r.text, { add_special_tokens: false });
  const dec = (skip) => tok.decode(ids, { skip_special_tokens: skip, clean_up_tokenization_spaces: false });
  const want = { decoded: r.decoded ?? r.text };
  want.decoded_skip = r.decoded_skip ?? want.decoded;
  const errs = [];
  if (!same(ids, r.ids)) errs.push(["ids", ids, r.ids]);
  if (!same(plain, r.ids_plain)) errs.push(["ids_plain", plain, r.ids_plain]);
  if (dec(false) !== want.decoded) errs.push(["decoded", dec(false), want.decoded]);
  if (dec(true) !== want.decoded_skip) errs.push(["decoded_skip", dec(true), want.decoded_skip]);
  if (dec(true) === r.text) ++roundtrip;
  if (errs.length === 0) { ++ok; continue; }
  for (const [k, got, w] of errs) {
    if (++bad[k] <= 5) console.log(k, JSON.stringify(r.text), "\n  lenml:", JSON.stringify(got), "\n  golden:", JSON.stringify(w));
  }
}
console.log(`${ok}/${rows} rows agree; mismatches ${JSON.stringify(bad)}; decode(ids, skip) == text for ${roundtrip}`);
