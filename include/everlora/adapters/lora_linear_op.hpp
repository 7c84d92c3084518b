// everlora — the fused adapted-linear op with autograd: a frozen base plus K LoRA experts.
//   y = x·W0ᵀ + b + Σ_e c_e · s_e · (x̃·A_eᵀ)·B_eᵀ          x [N.., in] → y [N.., out]
// x̃ is the adapters' input (x itself, or x after dropout); c [N, K] are per-row mixing weights
// from a combiner, or all 1 when undefined (Sum). The K experts cost one GEMM against the stacked
// A's [R, in] and one against the concatenated B's [out, R] (R = Σ r_e); W0 + s·B·A is never
// formed. Backward, with G = dY·B_cat and Gs = G scaled like the forward (= ∂L/∂U):
//   dX = dY·W0,  dX̃ = Gs·A_stack,  dA_e = Gs_eᵀ·x̃,  dB_e = dYᵀ·Uc_e,  dc_e = s_e·Σ_j G_ej ⊙ U_ej
// and only for the tensors that require grad: a frozen W0 costs no weight-gradient GEMM.
// A caller that already has U = x̃·A_stackᵀ in its graph (AM-LoRA's mixer scores the experts from
// it) passes it as `rank_activations`: the op then skips that GEMM and hands Gs to U's own graph
// (which gives dX̃ and dA) instead of computing dX̃ and dA itself.
#ifndef EVERLORA_ADAPTERS_LORA_LINEAR_OP_HPP
#define EVERLORA_ADAPTERS_LORA_LINEAR_OP_HPP

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "everlora/core/detail/gemm.hpp"
#include "everlora/core/detail/gemm_bf16.hpp"
#include "everlora/core/detail/loops.hpp"
#include "everlora/core/tensor.hpp"

namespace everlora {

namespace detail {

/// y = x·W0ᵀ + b [N.., out]: the frozen part of an adapted layer (bias may be undefined; W0 may
/// be held in bf16).
template <class T>
Tensor<T> base_linear_output(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias) {
  const Index in = x.shape().last(), n = x.shape().rows(), out = weight.dim(0);
  Shape out_shape = x.shape();
  out_shape[-1] = out;
  Tensor<T> y = Tensor<T>::empty(out_shape);
  gemm_tensor_b(false, true, n, out, in, T(1), x.data(), in, weight, 0, in, T(0), y.data(), out);
  if (bias.defined()) add_to_rows(y.data(), n, out, bias.data());
  return y;
}

/// The base part's backward: dX += dY·W0, dW0 += dYᵀ·x, db += Σ_rows dY, each only where the
/// tensor requires grad (a frozen W0 costs no weight-gradient GEMM).
template <class T>
void base_linear_backward(const T* dy, const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias) {
  const Index in = x.shape().last(), n = x.shape().rows(), out = weight.dim(0);
  if (T* gx = grad_ptr(x)) gemm_tensor_b(false, false, n, in, out, T(1), dy, out, weight, 0, in, T(1), gx, in);
  if (T* gw = grad_ptr(weight)) gemm(true, false, out, in, n, T(1), dy, out, x.data(), in, T(1), gw, in);
  if (bias.defined())
    if (T* gb = grad_ptr(bias)) add_column_sums(dy, n, out, gb);
}

/// Throws Error(shape) for an adapted-linear op's inputs, naming the op, x and W0.
template <class T>
[[noreturn]] void fail_adapted_inputs(const char* op, const Tensor<T>& x, const Tensor<T>& weight, const std::string& why) {
  throw Error(ErrorKind::shape, std::string(op) + ": x " + x.shape().str() + ", W0 " + weight.shape().str() + ": " + why);
}

/// Checks the inputs every adapted-linear op shares (x [.., in], x̃ like x, W0 [out, in], bias
/// [out], K experts A_e [r_e, in] and B_e [out, r_e], K scales); returns the experts' rank offsets
/// 0, r_1, r_1 + r_2, …, Σr.
template <class T>
std::vector<Index> check_adapted_inputs(const char* op, const Tensor<T>& x, const Tensor<T>& x_adapter, const Tensor<T>& weight,
                                        const Tensor<T>& bias, const std::vector<Tensor<T>>& a,
                                        const std::vector<Tensor<T>>& b, const std::vector<T>& scales) {
  const Index in = x.shape().last(), out = weight.dim(0);
  auto fail = [&](const std::string& why) { fail_adapted_inputs(op, x, weight, why); };
  if (weight.rank() != 2 || weight.dim(1) != in || x.rank() < 1) fail("W0 must be [out, in]");
  if (x_adapter.shape() != x.shape()) fail("the adapters' input " + x_adapter.shape().str() + " differs");
  if (bias.defined() && bias.shape() != Shape{out}) fail("bias " + bias.shape().str() + " is not [out]");
  if (b.size() != a.size() || scales.size() != a.size()) fail("A, B and scales differ in count");
  std::vector<Index> offsets{0};
  for (std::size_t e = 0; e < a.size(); ++e) {
    if (a[e].rank() != 2 || a[e].dim(1) != in || b[e].rank() != 2 || b[e].dim(0) != out || b[e].dim(1) != a[e].dim(0))
      fail("expert " + std::to_string(e) + " has A " + a[e].shape().str() + " and B " + b[e].shape().str());
    offsets.push_back(offsets.back() + a[e].dim(0));
  }
  return offsets;
}

/// Scales each expert's column block of m [N, R] by s_e (times c[n, e] when c is given).
template <class T>
void scale_blocks(T* m, Index n, Index total_rank, const std::vector<Index>& offsets,
                  const std::vector<T>& scales, const T* coef) {
  const Index k = static_cast<Index>(scales.size());
  parallel_for(n, 64, [&](Index r0, Index r1) {
    for (Index row = r0; row < r1; ++row)
      for (Index e = 0; e < k; ++e) {
        const T f = scales[static_cast<std::size_t>(e)] * (coef ? coef[row * k + e] : T(1));
        const Index begin = offsets[static_cast<std::size_t>(e)], end = offsets[static_cast<std::size_t>(e) + 1];
        VecMap<T>(m + row * total_rank + begin, end - begin) *= f;
      }
  });
}

}  // namespace detail

/// See the file comment. `bias`, `coef` and `rank_activations` may be undefined; `x_adapter` may
/// be `x` itself.
template <class T>
Tensor<T> lora_linear(const Tensor<T>& x, const Tensor<T>& x_adapter, const Tensor<T>& weight,
                      const Tensor<T>& bias, const std::vector<Tensor<T>>& a,
                      const std::vector<Tensor<T>>& b, const std::vector<T>& scales,
                      const Tensor<T>& coef, const Tensor<T>& rank_activations = Tensor<T>()) {
  const Index in = x.shape().last(), n = x.shape().rows(), out = weight.dim(0);
  const Index k = static_cast<Index>(a.size());
  const std::vector<Index> offsets = detail::check_adapted_inputs("lora_linear", x, x_adapter, weight, bias, a, b, scales);
  if (coef.defined() && coef.shape() != Shape{n, k})
    detail::fail_adapted_inputs("lora_linear", x, weight, "combiner weights " + coef.shape().str() + " are not [" +
                                                               std::to_string(n) + ", " + std::to_string(k) + "]");
  const Index total = offsets.back();
  const bool given_u = rank_activations.defined();
  if (given_u && rank_activations.shape() != Shape{n, total})
    detail::fail_adapted_inputs("lora_linear", x, weight, "rank activations " + rank_activations.shape().str() +
                                                               " are not [" + std::to_string(n) + ", " + std::to_string(total) + "]");

  Tensor<T> y = detail::base_linear_output(x, weight, bias);
  // Stacked A [R, in] (not needed when U is given), concatenated B [out, R], U = x̃·A_stackᵀ and
  // the scaled Uc [N, R].
  auto a_stack = std::make_shared<detail::Buffer<T>>(given_u ? 0 : total * in);
  auto b_cat = std::make_shared<detail::Buffer<T>>(out * total);
  Tensor<T> u = given_u ? rank_activations : Tensor<T>::empty(Shape{n, total});
  auto uc = std::make_shared<detail::Buffer<T>>(n * total);
  if (k > 0) {
    for (Index e = 0; e < k; ++e) {
      const auto& ae = a[static_cast<std::size_t>(e)];
      const auto& be = b[static_cast<std::size_t>(e)];
      const Index off = offsets[static_cast<std::size_t>(e)], r = ae.dim(0);
      if (!given_u) std::copy_n(ae.data(), r * in, a_stack->data() + off * in);
      for (Index o = 0; o < out; ++o) std::copy_n(be.data() + o * r, r, b_cat->data() + o * total + off);
    }
    if (!given_u) detail::gemm(false, true, n, total, in, T(1), x_adapter.data(), in, a_stack->data(), in, T(0), u.data(), total);
    std::copy_n(u.data(), n * total, uc->data());
    detail::scale_blocks(uc->data(), n, total, offsets, scales, coef.defined() ? coef.data() : nullptr);
    detail::gemm(false, true, n, out, total, T(1), uc->data(), total, b_cat->data(), total, T(1), y.data(), out);
  }

  // With U given, y depends on x̃ and the A's only through U.
  std::vector<Tensor<T>> inputs{x, weight, given_u ? rank_activations : x_adapter};
  if (bias.defined()) inputs.push_back(bias);
  if (!given_u) inputs.insert(inputs.end(), a.begin(), a.end());
  inputs.insert(inputs.end(), b.begin(), b.end());
  if (coef.defined()) inputs.push_back(coef);
  if (detail::needs_grad(inputs))
    detail::record(y, "lora_linear", inputs,
                   [x, x_adapter, weight, bias, a, b, scales, coef, rank_activations, offsets, a_stack, b_cat, u, uc, n, in, out, k, total](const T* dy) {
                     detail::base_linear_backward(dy, x, weight, bias);
                     if (k == 0) return;
                     // G = dY·B_cat [N, R]; dc from G ⊙ U before G is scaled into Gs = ∂L/∂U.
                     detail::Buffer<T> g(n * total);
                     detail::gemm(false, false, n, total, out, T(1), dy, out, b_cat->data(), total, T(0), g.data(), total);
                     if (coef.defined())
                       if (T* gc = detail::grad_ptr(coef))
                         parallel_for(n, std::max<Index>(1, 4096 / total), [&](Index first, Index last) {
                           for (Index row = first; row < last; ++row)
                             for (Index e = 0; e < k; ++e) {
                               const Index begin = offsets[static_cast<std::size_t>(e)], len = offsets[static_cast<std::size_t>(e) + 1] - begin;
                               gc[row * k + e] += scales[static_cast<std::size_t>(e)] *
                                                  detail::ConstVecMap<T>(g.data() + row * total + begin, len)
                                                      .dot(detail::ConstVecMap<T>(u.data() + row * total + begin, len));
                             }
                         });
                     detail::scale_blocks(g.data(), n, total, offsets, scales, coef.defined() ? coef.data() : nullptr);
                     if (rank_activations.defined()) {  // U's own graph turns Gs into dX̃ and dA
                       if (T* gu = detail::grad_ptr(rank_activations)) detail::VecMap<T>(gu, n * total) += g.vec();
                     } else if (T* gxa = detail::grad_ptr(x_adapter)) {
                       detail::gemm(false, false, n, in, total, T(1), g.data(), total, a_stack->data(), in, T(1), gxa, in);
                     }
                     for (Index e = 0; e < k; ++e) {
                       const Index off = offsets[static_cast<std::size_t>(e)], r = a[static_cast<std::size_t>(e)].dim(0);
                       if (!rank_activations.defined())
                         if (T* ga = detail::grad_ptr(a[static_cast<std::size_t>(e)]))
                           detail::gemm(true, false, r, in, n, T(1), g.data() + off, total, x_adapter.data(), in, T(1), ga, in);
                       if (T* gb = detail::grad_ptr(b[static_cast<std::size_t>(e)]))
                         detail::gemm(true, false, out, r, n, T(1), dy, out, uc->data() + off, total, T(1), gb, r);
                     }
                   });
  return y;
}

}  // namespace everlora

#endif  // EVERLORA_ADAPTERS_LORA_LINEAR_OP_HPP
