// everlora — modules: Module and the layers and models built from it.
//   #include <everlora/nn.hpp>
#ifndef EVERLORA_NN_HPP
#define EVERLORA_NN_HPP

#include "everlora/core.hpp"
#include "everlora/nn/module.hpp"
#include "everlora/nn/linear.hpp"
#include "everlora/nn/embedding.hpp"
#include "everlora/nn/layer_norm.hpp"
#include "everlora/nn/dropout.hpp"
#include "everlora/nn/causal_lm.hpp"
#include "everlora/nn/attention.hpp"
#include "everlora/nn/mlp.hpp"
#include "everlora/nn/transformer_block.hpp"
#include "everlora/nn/gpt.hpp"
#include "everlora/nn/rms_norm.hpp"
#include "everlora/nn/decoder_config.hpp"
#include "everlora/nn/decoder_block.hpp"
#include "everlora/nn/decoder.hpp"
#include "everlora/nn/generate.hpp"

#endif  // EVERLORA_NN_HPP
