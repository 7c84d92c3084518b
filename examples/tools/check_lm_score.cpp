// check_lm_score — the test suite's checker of 06_lm_score (not an example, not installed): reads
// 06_lm_score's output on stdin and compares it with a decoder fixture's golden.safetensors
// (tools/make_decoder_fixtures.py, a torch reference): the ids must be row ROW of "ids", and each
// logprob must be log_softmax(logits)[next id] to 1e-4, from "logits.f32" [B, T, V] or, for the
// fixtures with a real vocabulary, from "logits.next.f32" − "logits.logsumexp.f32" [B, T].
// With --generated N the second line must hold N ids, the first of them the argmax of the golden
// logits at the last position (when the fixture has whole logits and the top two differ).
//   06_lm_score --model DIR --ids … | check_lm_score DIR/golden.safetensors ROW [--generated N]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "everlora/io/safetensors.hpp"

using everlora::Error;
using everlora::ErrorKind;
using everlora::Index;

constexpr double kTolerance = 1e-4;

nlohmann::json read_line(const char* what) {
  std::string line;
  if (!std::getline(std::cin, line)) throw Error(ErrorKind::format, std::string("stdin has no ") + what + " line");
  try {
    return nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::format, std::string("the ") + what + " line is not JSON (" + e.what() + "): " + line);
  }
}

int main(int argc, char** argv) {
  try {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if ((args.size() != 2 && args.size() != 4) || (args.size() == 4 && args[2] != "--generated"))
      throw Error(ErrorKind::value, "usage: check_lm_score GOLDEN.safetensors ROW [--generated N] < output");
    const std::string golden_path = args[0];
    const Index row = std::stoll(args[1]);
    const auto golden = everlora::load_safetensors<double>(golden_path);
    const auto tensor = [&](const std::string& key) -> const everlora::Tensor<double>& {
      const auto it = golden.tensors.find(key);
      if (it == golden.tensors.end()) throw Error(ErrorKind::format, golden_path + ": no tensor '" + key + "'");
      return it->second;
    };
    const everlora::Tensor<double>& golden_ids = tensor("ids");
    const Index length = golden_ids.dim(1);
    if (row < 0 || row >= golden_ids.dim(0)) throw Error(ErrorKind::value, "ROW " + args[1] + " is not a row of 'ids'");

    const nlohmann::json scored = read_line("first");
    const auto ids = scored.at("ids").get<std::vector<std::int64_t>>();
    const auto logprobs = scored.at("logprobs").get<std::vector<double>>();
    if (static_cast<Index>(ids.size()) != length || logprobs.size() + 1 != ids.size())
      throw Error(ErrorKind::shape, "expected " + std::to_string(length) + " ids and " + std::to_string(length - 1) +
                                        " logprobs, got " + std::to_string(ids.size()) + " and " + std::to_string(logprobs.size()));
    for (Index t = 0; t < length; ++t)
      if (static_cast<double>(ids[static_cast<std::size_t>(t)]) != golden_ids[row * length + t])
        throw Error(ErrorKind::value, "ids[" + std::to_string(t) + "] = " + std::to_string(ids[static_cast<std::size_t>(t)]) +
                                          ", the golden id is " + std::to_string(golden_ids[row * length + t]));

    const bool whole = golden.tensors.count("logits.f32") > 0;
    double worst = 0;
    for (Index t = 0; t + 1 < length; ++t) {
      double expected;
      if (whole) {
        const everlora::Tensor<double>& logits = tensor("logits.f32");
        const Index vocab = logits.dim(2);
        const double* z = logits.data() + (row * length + t) * vocab;
        const double top = *std::max_element(z, z + vocab);
        double sum = 0;
        for (Index v = 0; v < vocab; ++v) sum += std::exp(z[v] - top);
        expected = z[ids[static_cast<std::size_t>(t + 1)]] - top - std::log(sum);
      } else {
        expected = tensor("logits.next.f32")[row * length + t] - tensor("logits.logsumexp.f32")[row * length + t];
      }
      const double error = std::abs(logprobs[static_cast<std::size_t>(t)] - expected);
      worst = std::max(worst, error);
      if (!(error <= kTolerance))
        throw Error(ErrorKind::value, "logprobs[" + std::to_string(t) + "] = " + std::to_string(logprobs[static_cast<std::size_t>(t)]) +
                                          ", the reference gives " + std::to_string(expected));
    }
    std::printf("check_lm_score: %zu logprobs agree with %s row %lld (max |error| %.2e)\n", logprobs.size(),
                golden_path.c_str(), static_cast<long long>(row), worst);

    if (args.size() == 4) {
      const std::size_t count = std::stoul(args[3]);
      const nlohmann::json generated = read_line("second");
      const auto next = generated.at("generated_ids").get<std::vector<std::int64_t>>();
      if (next.size() != count || !(generated.at("text").is_string() || generated.at("text").is_null()))
        throw Error(ErrorKind::value, "expected " + std::to_string(count) + " generated ids and a text, got: " + generated.dump());
      if (whole && count > 0) {
        const everlora::Tensor<double>& logits = tensor("logits.f32");
        const Index vocab = logits.dim(2);
        std::vector<double> z(logits.data() + (row * length + length - 1) * vocab, logits.data() + (row * length + length) * vocab);
        const auto best = std::max_element(z.begin(), z.end()) - z.begin();
        std::vector<double> sorted = z;
        std::sort(sorted.rbegin(), sorted.rend());
        if (sorted[0] - sorted[1] > 1e-3 && next[0] != best)
          throw Error(ErrorKind::value, "the first generated id is " + std::to_string(next[0]) + ", the reference's argmax is " +
                                            std::to_string(best));
      }
      std::printf("check_lm_score: %zu generated ids\n", next.size());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "check_lm_score: %s\n", e.what());
    return 1;
  }
  return 0;
}
