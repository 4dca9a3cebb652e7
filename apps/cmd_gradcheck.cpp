// quill gradcheck: analytic gradients against central finite differences in float64 (layers/gradcheck.h),
// for one layer, a whole model, or (by default) a suite covering every layer kind and the loss.
#include <cstdio>
#include <memory>
#include <sstream>

#include "apps/commands.h"
#include "engine/model_lookup.h"
#include "layers/gradcheck.h"
#include "runtime/text_file.h"

namespace quill {
namespace {

struct GradcheckCommandOptions {
  std::string layer, model;
  std::string shape;  // "C,H,W" or "N" per sample
  int batch = 3;
  int classes = 10;
  double tolerance = 1e-6;
  int64_t max_elements = 400;
  uint64_t seed = 1;
};

Shape parse_shape(const std::string& text) {
  Shape s;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    QUILL_CHECK(used == part.size() && v >= 1 && v <= 4096, "--shape '", text,
                "': expected positive sizes separated by commas, e.g. 3,7,9");
    QUILL_CHECK(s.rank() < 3, "--shape '", text, "': at most 3 dimensions per sample (C,H,W)");
    s.push_back(v);
  }
  QUILL_CHECK(s.rank() >= 1, "--shape needs at least one size");
  return s;
}

struct Row {
  std::string check, tensor;
  int64_t elements = 0;
  double error = 0;
};

int print_table(const std::vector<Row>& rows, double tolerance) {
  size_t width = 5;
  for (const Row& r : rows) width = std::max(width, r.check.size());
  std::printf("%-*s  %-8s  %8s  %14s  result\n", int(width), "check", "tensor", "elements", "max rel error");
  int failures = 0;
  for (const Row& r : rows) {
    const bool pass = r.error < tolerance && r.elements > 0;
    failures += !pass;
    std::printf("%-*s  %-8s  %8lld  %14.3e  %s\n", int(width), r.check.c_str(), r.tensor.c_str(),
                (long long)r.elements, r.error, pass ? "PASS" : "FAIL");
  }
  std::printf("%zu checks, %d failed (tolerance %.0e)\n", rows.size(), failures, tolerance);
  return failures ? 1 : 0;
}

void add_rows(std::vector<Row>& rows, const std::string& check, const std::vector<GradcheckResult>& results) {
  for (const GradcheckResult& r : results) rows.push_back({check, r.what, r.checked, r.max_rel_error});
}

int run_gradcheck(const GradcheckCommandOptions& o) {
  GradcheckOptions g;
  g.seed = o.seed;
  g.max_elements = o.max_elements;
  std::vector<Row> rows;
  if (!o.model.empty()) {
    const std::string path = find_model_description(o.model);
    const std::string text = read_text_file(path, "model description");
    const Shape shape = parse_shape(o.shape.empty() ? "1,12,12" : o.shape);
    add_rows(rows, path + " " + shape.str(), gradcheck_model(text, shape, o.batch, o.classes, g));
  } else if (!o.layer.empty()) {
    add_rows(rows, o.layer, gradcheck_layer(o.layer, parse_shape(o.shape.empty() ? "5,7,9" : o.shape), o.batch, g,
                                            o.classes));
  } else {
    // Every layer kind on an odd-sized image (N=3, C=5, H=7, W=9), then the loss.
    const Shape image = parse_shape(o.shape.empty() ? "5,7,9" : o.shape);
    for (const char* line : {"conv 4 k3 s1 p1", "conv 4 k3 s2 p1", "conv 3 k1", "maxpool 2", "maxpool 3 s2 p1",
                             "avgpool 2", "relu", "leaky 0.1", "tanh", "sigmoid", "dense 6", "bn", "dropout 0.3",
                             "flatten"})
      add_rows(rows, line, gradcheck_layer(line, image, o.batch, g, o.classes));
    for (double smoothing : {0.0, 0.1}) {
      const GradcheckResult r = gradcheck_softmax_xent(o.batch, o.classes, smoothing, g);
      rows.push_back({"softmax xent, smoothing " + std::string(smoothing > 0 ? "0.1" : "0"), r.what, r.checked,
                      r.max_rel_error});
    }
  }
  return print_table(rows, o.tolerance);
}

}  // namespace

Command add_gradcheck_command(CLI::App& quill) {
  auto o = std::make_shared<GradcheckCommandOptions>();
  CLI::App* cmd = quill.add_subcommand(
      "gradcheck", "Check backward passes against finite differences (default: every layer kind and the loss)");
  auto* layer = cmd->add_option("--layer", o->layer, "One layer line to check, e.g. \"conv 4 k3 s2 p1\"");
  cmd->add_option("--model", o->model, "A model description (file or built-in name) to check end to end")
      ->excludes(layer);
  cmd->add_option("--shape", o->shape, "Per-sample input shape C,H,W (default 5,7,9; 1,12,12 for --model)");
  cmd->add_option("--batch", o->batch, "Batch size")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--classes", o->classes, "Classes for `dense classes` and the loss")
      ->check(CLI::Range(2, 1000))
      ->capture_default_str();
  cmd->add_option("--max-elements", o->max_elements, "Elements compared per tensor (sampled evenly)")
      ->check(positive_number())
      ->capture_default_str();
  cmd->add_option("--tolerance", o->tolerance, "Largest relative error that passes")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the random inputs")->capture_default_str();
  return {cmd, [o](const std::string&) { return run_gradcheck(*o); }};
}

}  // namespace quill
