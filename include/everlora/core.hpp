// everlora — the tensor core: Tensor<T>, autograd, threads, RNG and every op.
//   #include <everlora/core.hpp>
// Include a single header from core/ or core/ops/ instead to compile less.
#ifndef EVERLORA_CORE_HPP
#define EVERLORA_CORE_HPP

#include "everlora/config.hpp"
#include "everlora/version.hpp"
#include "everlora/core/error.hpp"
#include "everlora/core/shape.hpp"
#include "everlora/core/random.hpp"
#include "everlora/core/parallel.hpp"
#include "everlora/core/memory.hpp"
#include "everlora/core/tensor.hpp"
#include "everlora/core/autograd.hpp"
#include "everlora/core/state_dict.hpp"
#include "everlora/core/ops/matmul.hpp"
#include "everlora/core/ops/elementwise.hpp"
#include "everlora/core/ops/activations.hpp"
#include "everlora/core/ops/reduce.hpp"
#include "everlora/core/ops/shape_ops.hpp"
#include "everlora/core/ops/softmax.hpp"
#include "everlora/core/ops/sparsemax.hpp"
#include "everlora/core/ops/loss.hpp"
#include "everlora/core/ops/layer_norm.hpp"
#include "everlora/core/ops/embedding.hpp"
#include "everlora/core/ops/dropout.hpp"
#include "everlora/core/ops/pooling.hpp"
#include "everlora/core/ops/attention.hpp"
#include "everlora/core/ops/rms_norm.hpp"
#include "everlora/core/ops/rope.hpp"

#endif  // EVERLORA_CORE_HPP
