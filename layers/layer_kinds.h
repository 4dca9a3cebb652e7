#pragma once
// Constructors of each layer kind from its description words, one file per kind.
#include <memory>

#include "layers/layer.h"
#include "layers/layer_args.h"

namespace quill {

std::unique_ptr<Layer> make_conv(LayerArgs& args);        // conv K k3 [s1] [p0] [nobias] (conv.cpp: per axis)
std::unique_ptr<Layer> make_pool(LayerArgs& args);        // maxpool|avgpool K [s K] [p0] [ceil] [countpad]
std::unique_ptr<Layer> make_activation(LayerArgs& args);  // relu | leaky [0.01] | tanh | sigmoid
std::unique_ptr<Layer> make_dense(LayerArgs& args);       // dense N [nobias] [xavier]
std::unique_ptr<Layer> make_batchnorm(LayerArgs& args);   // bn
std::unique_ptr<Layer> make_dropout(LayerArgs& args);     // dropout P
std::unique_ptr<Layer> make_flatten(LayerArgs& args);     // flatten
std::unique_ptr<Layer> make_add(LayerArgs& args);         // add (two inputs)

// The kernel (named kernel_name), stride and padding attributes of a window layer (conv.cpp): one value each
// when both axes and sides agree, else per axis (name_h, name_w, stride_h, stride_w) and per side (pad_top,
// pad_bottom, pad_left, pad_right).
void window_attributes(const WindowArgs& win, const char* kernel_name, std::vector<LayerAttribute>& out);

}  // namespace quill
