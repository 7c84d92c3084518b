// everlora — the adapted-linear op under per-example routing (SAPT, MoA), with autograd.
//   y = x·W0ᵀ + b + Σ_e w[ex(n), e] · s_e · (x̃_n·A_eᵀ)·B_eᵀ          x [N.., in] → y [N.., out]
// w [B, K] holds one routing weight per example and expert; the N rows of x are B examples of
// N/B consecutive rows each (a batch of sequences, or one row per image), ex(n) = n / (N/B).
// Expert e runs only on the rows whose example gives it a nonzero weight: under top-1 routing
// every row touches exactly one expert, so the cost does not grow with the number of experts.
// Per expert, on its rows R_e (gathered when they are not all rows), with U = x̃_R·A_eᵀ and
// Uc = U scaled by s_e·w:  y_R += Uc·B_eᵀ. Backward, with G = dY_R·B_e:
//   dw[ex, e] += s_e·Σ_{n∈ex} G_n·U_n,  Gs = G scaled like U,  dX̃_R += Gs·A_e,  dA_e += Gsᵀ·x̃_R,
//   dB_e += dY_Rᵀ·Uc,   and the base part as in lora_linear.
// A weight of exactly 0 gets no gradient (its expert did not run). That is exact for the routers
// here: a softmax or renormalised top-k weight that is 0 has a zero Jacobian, so ∂L/∂w there never
// reaches the router's parameters.
#ifndef EVERLORA_ADAPTERS_ROUTED_LORA_OP_HPP
#define EVERLORA_ADAPTERS_ROUTED_LORA_OP_HPP

#include <memory>
#include <string>
#include <vector>

#include "everlora/adapters/lora_linear_op.hpp"

namespace everlora {

namespace detail {

/// One expert's share of a routed forward pass, kept for the backward.
template <class T>
struct RoutedExpertPass {
  std::vector<Index> rows;  ///< the rows it ran on, ascending
  bool all_rows = false;    ///< rows covers every row: x̃ and dY are used in place, not gathered
  std::shared_ptr<Buffer<T>> x_rows;  ///< x̃ on those rows [n_e, in] (null when all_rows)
  std::shared_ptr<Buffer<T>> u, uc;   ///< x̃_R·A_eᵀ and its scaled copy [n_e, r]
};

/// Copies rows `rows` of m [.., width] into a new [rows, width] buffer.
template <class T>
std::shared_ptr<Buffer<T>> gather_rows(const T* m, Index width, const std::vector<Index>& rows) {
  auto out = std::make_shared<Buffer<T>>(static_cast<Index>(rows.size()) * width);
  for (std::size_t i = 0; i < rows.size(); ++i) std::copy_n(m + rows[i] * width, width, out->data() + static_cast<Index>(i) * width);
  return out;
}

/// Adds the rows of part [rows, width] into rows `rows` of m.
template <class T>
void scatter_add_rows(const T* part, Index width, const std::vector<Index>& rows, T* m) {
  for (std::size_t i = 0; i < rows.size(); ++i)
    VecMap<T>(m + rows[i] * width, width) += ConstVecMap<T>(part + static_cast<Index>(i) * width, width);
}

}  // namespace detail

/// See the file comment. `bias` may be undefined; `x_adapter` may be `x` itself. If
/// `expert_rows` is given, expert e's entry grows by the number of rows it ran on.
template <class T>
Tensor<T> routed_lora_linear(const Tensor<T>& x, const Tensor<T>& x_adapter, const Tensor<T>& weight,
                             const Tensor<T>& bias, const std::vector<Tensor<T>>& a,
                             const std::vector<Tensor<T>>& b, const std::vector<T>& scales,
                             const Tensor<T>& routing, std::vector<Index>* expert_rows = nullptr) {
  const Index in = x.shape().last(), n = x.shape().rows(), out = weight.dim(0);
  const Index k = static_cast<Index>(a.size());
  detail::check_adapted_inputs("routed_lora_linear", x, x_adapter, weight, bias, a, b, scales);
  if (routing.rank() != 2 || routing.dim(1) != k || routing.dim(0) < 1 || n % routing.dim(0) != 0)
    detail::fail_adapted_inputs("routed_lora_linear", x, weight,
                                "routing weights " + routing.shape().str() + " are not [examples, " + std::to_string(k) +
                                    "] with the " + std::to_string(n) + " rows split evenly among the examples");
  if (expert_rows && static_cast<Index>(expert_rows->size()) < k) expert_rows->resize(static_cast<std::size_t>(k), 0);
  const Index per_example = n / routing.dim(0);

  Tensor<T> y = detail::base_linear_output(x, weight, bias);
  auto passes = std::make_shared<std::vector<detail::RoutedExpertPass<T>>>(static_cast<std::size_t>(k));
  for (Index e = 0; e < k; ++e) {
    auto& pass = (*passes)[static_cast<std::size_t>(e)];
    for (Index row = 0; row < n; ++row)
      if (routing[(row / per_example) * k + e] != T(0)) pass.rows.push_back(row);
    const Index rows = static_cast<Index>(pass.rows.size());
    if (rows == 0) continue;
    if (expert_rows) (*expert_rows)[static_cast<std::size_t>(e)] += rows;
    pass.all_rows = rows == n;
    if (!pass.all_rows) pass.x_rows = detail::gather_rows(x_adapter.data(), in, pass.rows);
    const T* xr = pass.all_rows ? x_adapter.data() : pass.x_rows->data();
    const Tensor<T>& ae = a[static_cast<std::size_t>(e)];
    const Tensor<T>& be = b[static_cast<std::size_t>(e)];
    const Index r = ae.dim(0);
    pass.u = std::make_shared<detail::Buffer<T>>(rows * r);
    pass.uc = std::make_shared<detail::Buffer<T>>(rows * r);
    detail::gemm(false, true, rows, r, in, T(1), xr, in, ae.data(), in, T(0), pass.u->data(), r);
    for (Index i = 0; i < rows; ++i) {
      const T f = scales[static_cast<std::size_t>(e)] * routing[(pass.rows[static_cast<std::size_t>(i)] / per_example) * k + e];
      detail::VecMap<T>(pass.uc->data() + i * r, r) = f * detail::ConstVecMap<T>(pass.u->data() + i * r, r);
    }
    if (pass.all_rows) {
      detail::gemm(false, true, rows, out, r, T(1), pass.uc->data(), r, be.data(), r, T(1), y.data(), out);
    } else {
      detail::Buffer<T> part(rows * out);
      detail::gemm(false, true, rows, out, r, T(1), pass.uc->data(), r, be.data(), r, T(0), part.data(), out);
      detail::scatter_add_rows(part.data(), out, pass.rows, y.data());
    }
  }

  std::vector<Tensor<T>> inputs{x, x_adapter, weight, routing};
  if (bias.defined()) inputs.push_back(bias);
  inputs.insert(inputs.end(), a.begin(), a.end());
  inputs.insert(inputs.end(), b.begin(), b.end());
  if (detail::needs_grad(inputs))
    detail::record(y, "routed_lora_linear", inputs, [x, x_adapter, weight, bias, a, b, scales, routing, passes, per_example, in, out, k](const T* dy) {
      detail::base_linear_backward(dy, x, weight, bias);
      T* gw_route = detail::grad_ptr(routing);
      T* gxa = detail::grad_ptr(x_adapter);
      for (Index e = 0; e < k; ++e) {
        const auto& pass = (*passes)[static_cast<std::size_t>(e)];
        const Index rows = static_cast<Index>(pass.rows.size());
        if (rows == 0) continue;
        const Tensor<T>& ae = a[static_cast<std::size_t>(e)];
        const Tensor<T>& be = b[static_cast<std::size_t>(e)];
        const Index r = ae.dim(0);
        const T s = scales[static_cast<std::size_t>(e)];
        std::shared_ptr<detail::Buffer<T>> dy_gathered = pass.all_rows ? nullptr : detail::gather_rows(dy, out, pass.rows);
        const T* dyr = pass.all_rows ? dy : dy_gathered->data();
        const T* xr = pass.all_rows ? x_adapter.data() : pass.x_rows->data();
        detail::Buffer<T> g(rows * r);  // G = dY_R·B_e, then scaled into Gs = ∂L/∂U
        detail::gemm(false, false, rows, r, out, T(1), dyr, out, be.data(), r, T(0), g.data(), r);
        for (Index i = 0; i < rows; ++i) {
          const Index w_at = (pass.rows[static_cast<std::size_t>(i)] / per_example) * k + e;
          detail::VecMap<T> gi(g.data() + i * r, r);
          if (gw_route) gw_route[w_at] += s * gi.dot(detail::ConstVecMap<T>(pass.u->data() + i * r, r));
          gi *= s * routing[w_at];
        }
        if (gxa) {
          if (pass.all_rows) {
            detail::gemm(false, false, rows, in, r, T(1), g.data(), r, ae.data(), in, T(1), gxa, in);
          } else {
            detail::Buffer<T> part(rows * in);
            detail::gemm(false, false, rows, in, r, T(1), g.data(), r, ae.data(), in, T(0), part.data(), in);
            detail::scatter_add_rows(part.data(), in, pass.rows, gxa);
          }
        }
        if (T* ga = detail::grad_ptr(ae)) detail::gemm(true, false, r, in, rows, T(1), g.data(), r, xr, in, T(1), ga, in);
        if (T* gb = detail::grad_ptr(be)) detail::gemm(true, false, out, r, rows, T(1), dyr, out, pass.uc->data(), r, T(1), gb, r);
      }
    });
  return y;
}

}  // namespace everlora

#endif  // EVERLORA_ADAPTERS_ROUTED_LORA_OP_HPP
