// SGD and AdamW against PyTorch 1.13 (float64): tools/make_optim_golden.py ran five steps of
// torch.optim.SGD / AdamW on two parameters ("w" [3, 4], "b" [4]) with stored gradients — "b" has
// none at step 3 — and wrote every learning rate, gradient and the parameters after every step,
// then the optimizer state. Here the same gradients are replayed and everything compared to 1e-6
// (double; the actual differences are at rounding level).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "everlora/core.hpp"
#include "everlora/optim.hpp"
#include "optim_helpers.hpp"

using namespace everlora;

namespace {

struct Values {
  std::vector<long> shape;
  std::vector<double> data;
};

struct OptimCase {
  std::string name;
  std::map<std::string, double> hp;
  std::vector<std::pair<std::string, Values>> params;  // in file order
  std::map<int, double> lr;
  std::map<int, std::map<std::string, Values>> grad, after;
  std::map<std::string, Values> state;
  std::map<std::string, long> pstep;
};

Values read_values(std::istringstream& in, const std::string& where) {
  Values v;
  long rank = -1;
  if (!(in >> rank) || rank < 0 || rank > 4) throw std::runtime_error(where + ": bad rank");
  long n = 1;
  for (long i = 0; i < rank; ++i) {
    long d = 0;
    if (!(in >> d) || d < 0) throw std::runtime_error(where + ": bad dimension");
    v.shape.push_back(d);
    n *= d;
  }
  for (long i = 0; i < n; ++i) {
    std::string tok;
    if (!(in >> tok)) throw std::runtime_error(where + ": too few values");
    v.data.push_back(std::strtod(tok.c_str(), nullptr));
  }
  std::string extra;
  if (in >> extra) throw std::runtime_error(where + ": trailing field '" + extra + "'");
  return v;
}

std::vector<OptimCase> load_cases(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::vector<OptimCase> cases;
  OptimCase cur;
  std::string line;
  long no = 0;
  while (std::getline(f, line)) {
    ++no;
    if (line.empty() || line[0] == '#') continue;
    const std::string where = path + ":" + std::to_string(no);
    std::istringstream in(line);
    std::string kind;
    in >> kind;
    if (kind == "case") {
      cur = OptimCase();
      in >> cur.name;
    } else if (kind == "hp") {
      std::string k;
      double v = 0;
      in >> k >> v;
      cur.hp[k] = v;
    } else if (kind == "param") {
      std::string k;
      in >> k;
      cur.params.emplace_back(k, read_values(in, where));
    } else if (kind == "lr") {
      int s = 0;
      std::string tok;
      in >> s >> tok;
      cur.lr[s] = std::strtod(tok.c_str(), nullptr);
    } else if (kind == "grad" || kind == "after") {
      int s = 0;
      std::string k;
      in >> s >> k;
      (kind == "grad" ? cur.grad : cur.after)[s][k] = read_values(in, where);
    } else if (kind == "state") {
      std::string k;
      in >> k;
      cur.state[k] = read_values(in, where);
    } else if (kind == "pstep") {
      std::string k;
      long n = 0;
      in >> k >> n;
      cur.pstep[k] = n;
    } else if (kind == "end") {
      cases.push_back(cur);
    } else {
      throw std::runtime_error(where + ": unknown record '" + kind + "'");
    }
  }
  return cases;
}

Shape shape_of(const Values& v) {
  Shape s;
  for (long d : v.shape) s.push_back(d);
  return s;
}

std::unique_ptr<Optimizer<double>> make_optimizer(const OptimCase& c,
                                                  const Optimizer<double>::NamedParameters& params) {
  if (c.name.rfind("sgd", 0) == 0) {
    SGDOptions o;
    o.lr = c.hp.at("lr");
    o.momentum = c.hp.at("momentum");
    o.dampening = c.hp.at("dampening");
    o.weight_decay = c.hp.at("weight_decay");
    o.nesterov = c.hp.at("nesterov") != 0.0;
    return std::make_unique<SGD<double>>(params, o);
  }
  AdamWOptions o;
  o.lr = c.hp.at("lr");
  o.beta1 = c.hp.at("beta1");
  o.beta2 = c.hp.at("beta2");
  o.eps = c.hp.at("eps");
  o.weight_decay = c.hp.at("weight_decay");
  return std::make_unique<AdamW<double>>(params, o);
}

void check_close(const Tensor<double>& t, const Values& expected, const std::string& what) {
  INFO(what);
  REQUIRE(t.shape() == shape_of(expected));
  double maxdiff = 0;
  for (std::size_t i = 0; i < expected.data.size(); ++i)
    maxdiff = std::max(maxdiff, std::abs(t[static_cast<Index>(i)] - expected.data[i]));
  INFO("first values " << t << ", maxdiff " << maxdiff);
  CHECK(maxdiff <= 1e-6);
}

}  // namespace

TEST_CASE("SGD and AdamW reproduce PyTorch's trajectories over five steps", "[optim][golden]") {
  const auto cases = load_cases(std::string(EVERLORA_TEST_FIXTURES_DIR) + "/optim_golden.txt");
  REQUIRE(cases.size() == 6);
  for (const auto& c : cases) {
    SECTION(c.name) {
      Optimizer<double>::NamedParameters params;
      std::map<std::string, Tensor<double>> by_name;
      for (const auto& [name, v] : c.params) {
        auto t = Tensor<double>::from_vector(shape_of(v), v.data);
        t.requires_grad_();
        params.emplace_back(name, t);
        by_name[name] = t;
      }
      auto opt = make_optimizer(c, params);
      REQUIRE(c.after.size() == 5);
      for (const auto& [s, expected] : c.after) {
        opt->set_lr(c.lr.at(s));
        for (auto& [name, t] : by_name) {
          const auto g = c.grad.at(s).find(name);
          if (g == c.grad.at(s).end())
            everlora_test::drop_grad(t);
          else
            everlora_test::set_grad(t, g->second.data);
        }
        opt->step();
        for (const auto& [name, v] : expected)
          check_close(by_name.at(name), v, c.name + ": " + name + " after step " + std::to_string(s));
      }
      const auto state = opt->state_dict();
      for (const auto& [key, v] : c.state) check_close(state.at(key), v, c.name + ": state " + key);
      for (const auto& [name, n] : c.pstep)
        CHECK(state.at("step." + name).item() == static_cast<double>(n));
      CHECK(state.at("step").item() == 5.0);
      // The state holds exactly step, step.<name> and the PyTorch buffers.
      CHECK(state.size() == 1 + c.pstep.size() + c.state.size());
    }
  }
}
