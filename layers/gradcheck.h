#pragma once
// Gradient checking by central finite differences in float64, reusable by tests and `quill gradcheck`.
//
// For a layer f with input x and parameters w, we take the scalar L = sum(f(x, w) * R) for a fixed random
// R, so dL/dout = R. Backward gives analytic gradients g; finite differences give
//   n_i = (L(v + h e_i) - L(v - h e_i)) / (2h)
// for every input element and parameter v_i (a sample of at most max_elements per tensor). The error is
//   max_i |g_i - n_i| / max(|g_i| + |n_i|, 1e-3 G)   (symmetric relative error)
// where G is the largest |g| of the whole check (every tensor of the layer or model). Gradients a thousand
// times smaller than G are thus compared on the absolute scale 1e-3 G: their relative error measures only
// finite-difference round-off (e.g. a conv bias before batch norm, whose true gradient is 0).
// Step: the truncation error of central differences is ~h^2 |f'''| / 6 and the round-off ~1e-16 |L| / h;
// h = 1e-4 balances them for these layers (measured: errors of 3e-11..2e-9, against 4e-7 at h = 1e-5 for
// batch norm), well under the 1e-6 the tests require.
//
// Kinks (ReLU at 0, max-pool ties) are avoided by construction: input values are distinct, evenly spaced
// over [-1, 1] in random order, at least half a spacing away from 0, and the input step is capped at a
// quarter of the spacing, so no perturbation crosses a kink or changes which element of a window is largest.
#include <string>
#include <vector>

#include "layers/graph.h"

namespace quill {

struct GradcheckResult {
  std::string what;       // "input", "w", "b", "gamma", ...
  double max_rel_error = 0;
  int64_t checked = 0;    // elements compared
};

struct GradcheckOptions {
  double step = 1e-4;      // finite-difference step h (capped for inputs, see above)
  uint64_t seed = 1;
  int64_t max_elements = 400;  // per tensor; elements are sampled evenly when there are more
  bool training = true;    // checks the training-mode function (batch statistics, dropout mask fixed by seed)
};

// Checks one layer, given as a description line (e.g. "conv 4 k3 s2 p1"), on a random float64 input
// of shape [batch, sample_shape...]. Returns one result per input and per parameter.
std::vector<GradcheckResult> gradcheck_layer(const std::string& layer_line, const Shape& sample_shape, int batch,
                                             const GradcheckOptions& options = {}, int classes = 10);

// The same for a graph built (float64, CPU) by the caller, for layers defined in code.
std::vector<GradcheckResult> gradcheck_graph(Graph& graph, int batch, const GradcheckOptions& options = {});

// Checks the softmax cross-entropy loss with respect to its logits [batch, classes].
GradcheckResult gradcheck_softmax_xent(int batch, int classes, double label_smoothing,
                                       const GradcheckOptions& options = {});

// Checks a whole graph (the model description) end to end including the loss: gradients of every parameter.
std::vector<GradcheckResult> gradcheck_model(const std::string& description, const Shape& sample_shape, int batch,
                                             int classes, const GradcheckOptions& options = {});

}  // namespace quill
