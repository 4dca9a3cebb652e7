#pragma once
// Gradient checking by central finite differences in float64, reusable by tests and `quill gradcheck`.
//
// For a layer f with input x and parameters w, we take the scalar L = sum(f(x, w) * R) for a fixed random
// R, so dL/dout = R. Backward gives analytic gradients g; finite differences give
//   n_i = (L(v + h e_i) - L(v - h e_i)) / (2h)
// for every input element and parameter v_i. The error reported is
//   max_i |g_i - n_i| / max(|g_i| + |n_i|, tiny)   (symmetric relative error, Karpathy's cs231n form)
// with tiny = 1e-8 guarding exact zeros. Central differences have O(h^2) truncation error; with h = 1e-5
// in double the round-off is ~1e-11 / 1e-5 = 1e-6 of |L|-scale... so h is 1e-6 relative to the typical
// value and errors land near 1e-8..1e-10 for smooth layers.
//
// Kinks (ReLU at 0, max-pool ties) are avoided by construction: inputs are drawn so that no element is
// within `kink_margin` of 0 and max-pool windows have a unique maximum separated by more than 2h.
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
  double step = 1e-5;      // finite-difference step h
  double kink_margin = 1e-3;
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
