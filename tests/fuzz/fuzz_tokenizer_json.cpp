// libFuzzer target: Tokenizer::from_json (data/tokenizer.hpp) on an arbitrary tokenizer.json, then,
// when it loads, encode of a few fixed strings (with and without special tokens) and decode of
// what came out and of a few raw ids. everlora::Error is the expected answer to a bad file or to a
// regex that hits PCRE2's match limit; anything else (a crash, a hang, a sanitizer report) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "everlora/data/tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const everlora::Tokenizer tok = everlora::Tokenizer::from_json(text, {}, "tokenizer.json");
    for (const char* s : {"", "hello world", "  Hello,\tWORLD's 12345!\r\n\n", "<|end|>a<s> </s>b",
                          "caf\xC3\xA9 e\xCC\x81 \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"}) {
      for (bool special : {true, false}) {
        const std::vector<std::int32_t> ids = tok.encode(s, special);
        tok.decode(ids);
        tok.decode(ids, true);
      }
    }
    for (std::int32_t id = 0; id < 4 && id < tok.vocab_size(); ++id) {
      try {
        tok.decode({id, id});
        tok.token_to_id(tok.id_to_token(id));
      } catch (const everlora::Error&) {  // a gap in the ids
      }
    }
  } catch (const everlora::Error&) {
  }
  return 0;
}
