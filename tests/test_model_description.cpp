// The model description format and the messages its errors and shape mismatches promise.
#include <doctest/doctest.h>

#include "layers/model_description.h"

using namespace quill;

namespace {

Graph build(const std::string& text, const Shape& input = Shape{1, 28, 28}, int classes = 10) {
  Graph g;
  add_to_graph(parse_model_description(text), classes, g);
  g.build(input, DType::F32, Device::cpu(), 7);
  return g;
}

}  // namespace

TEST_CASE("model description: the default CNN builds with the expected shapes and parameter count") {
  Graph g = build(
      "# the default character CNN\n"
      "conv 32 k3 p1\nbn\nrelu\nconv 32 k3 p1\nbn\nrelu\nmaxpool 2\n"
      "conv 64 k3 p1\nbn\nrelu\nconv 64 k3 p1\nbn\nrelu\nmaxpool 2\n"
      "dense 256\nrelu\ndropout 0.5\ndense classes\n");
  CHECK(g.output_shape() == Shape{10});
  CHECK(g.node_shape(6) == Shape{32, 14, 14});
  CHECK(g.node_shape(13) == Shape{64, 7, 7});
  // conv: 32*1*9+32, 32*32*9+32, 64*32*9+64, 64*64*9+64; bn: 2*(32+32+64+64); dense: 3136*256+256, 256*10+10
  const int64_t expected = (288 + 32) + (9216 + 32) + (18432 + 64) + (36864 + 64) + 2 * (32 + 32 + 64 + 64) +
                           (3136 * 256 + 256) + (2560 + 10);
  CHECK(g.num_params() == expected);
}

TEST_CASE("model description: layers print back as they were written") {
  const char* lines[] = {"conv 16 k5 s2 p2", "conv 8 k3 nobias", "maxpool 3 s2 p1", "avgpool 2", "relu",
                         "leaky 0.2", "tanh", "sigmoid", "dense 10 nobias xavier", "bn", "dropout 0.25", "flatten"};
  for (const char* line : lines) {
    CAPTURE(line);
    Graph g;
    add_to_graph(parse_model_description(line), 10, g);
    CHECK(g.layer(0).describe() == line);
  }
}

// Per-axis sizes (HxW), padding per side (pt pb pl pr), ceil and countpad: describe() gives the canonical
// form, which reads back to the same layer; other spellings of the same layer print as that form.
TEST_CASE("model description: per-axis windows, asymmetric padding, ceil and countpad print back") {
  const char* canonical[] = {"conv 16 k3x5 s1x2 p1x2", "conv 8 k3 s2 pt0 pb1 pl0 pr1", "conv 8 k1x3 p0x1 nobias",
                             "conv 4 k5 pt4 pb0 pl2 pr3", "maxpool 3x2", "maxpool 3 s2x1 p1x0 ceil",
                             "maxpool 2 pt0 pb1 pl0 pr1", "avgpool 3 s2 p1 countpad",
                             "avgpool 3x2 s1 pt2 pb0 pl1 pr0 ceil countpad", "maxpool 5 s1 p4"};
  for (const char* line : canonical) {
    CAPTURE(line);
    Graph g;
    add_to_graph(parse_model_description(line), 10, g);
    CHECK(g.layer(0).describe() == line);
    Graph again;  // the printed form reads back to the same layer
    add_to_graph(parse_model_description(g.layer(0).describe()), 10, again);
    CHECK(again.layer(0).describe() == line);
  }
  const struct {
    const char* written;
    const char* printed;
  } spellings[] = {{"conv 8 k3x3 s2x2 p1x1", "conv 8 k3 s2 p1"},
                   {"conv 8 k3 p1 pb0", "conv 8 k3 pt1 pb0 pl1 pr1"},
                   {"conv 8 k3 pt1 pb1 pl0 pr0", "conv 8 k3 p1x0"},
                   {"maxpool 2x2 s2x2 p0", "maxpool 2"},
                   {"avgpool 2 countpad", "avgpool 2 countpad"}};
  for (const auto& sp : spellings) {
    CAPTURE(sp.written);
    Graph g;
    add_to_graph(parse_model_description(sp.written), 10, g);
    CHECK(g.layer(0).describe() == sp.printed);
  }
  // The shapes: per axis, and ceil's extra output row and column.
  Graph g = build("conv 4 k3x5 s1x2 p1x0\nmaxpool 2 ceil\nconv 2 k3 pt0 pb1 pl2 pr0\n", Shape{1, 9, 11});
  CHECK(g.node_shape(0) == Shape{4, 9, 4});
  CHECK(g.node_shape(1) == Shape{4, 5, 2});
  CHECK(g.node_shape(2) == Shape{2, 4, 2});
  CHECK_THROWS_WITH_AS(build("maxpool 2 countpad\n"), doctest::Contains("maxpool: unexpected 'countpad'"), Error);
  CHECK_THROWS_WITH_AS(build("conv 8 k3 pb3\n"), doctest::Contains("must be smaller than the kernel k3"), Error);
  CHECK_THROWS_WITH_AS(build("maxpool 3x2 pr2\n"), doctest::Contains("must be smaller than the window 3x2"), Error);
  CHECK_THROWS_WITH_AS(build("conv 8 k3x\n"), doctest::Contains("option 'k3x' is not"), Error);
  CHECK_THROWS_WITH_AS(build("dense 3x4\n"), doctest::Contains("is one number, not '3x4'"), Error);
}

TEST_CASE("model description: errors name the line") {
  CHECK_THROWS_WITH_AS(build("conv 8 k3\nconvv 8\n"), doctest::Contains("line 2: unknown layer 'convv'"), Error);
  CHECK_THROWS_WITH_AS(build("conv k3\n"), doctest::Contains("line 1: conv: missing the number of filters"), Error);
  CHECK_THROWS_WITH_AS(build("relu\ndropout 1.5\n"), doctest::Contains("line 2: dropout: the probability must be in [0, 1)"), Error);
  CHECK_THROWS_WITH_AS(build("conv 8 k3 q7\n"), doctest::Contains("line 1: conv: unexpected 'q7'"), Error);
  CHECK_THROWS_WITH_AS(build("relu as\n"), doctest::Contains("line 1: 'as' needs a name"), Error);
  CHECK_THROWS_WITH_AS(build("relu as a\nrelu as a\n"), doctest::Contains("line 2: the name 'a' is used twice"), Error);
  CHECK_THROWS_WITH_AS(build("relu\nadd from nowhere\n"), doctest::Contains("unknown input 'nowhere'"), Error);
  CHECK_THROWS_WITH_AS(build("# only a comment\n\n"), doctest::Contains("has no layers"), Error);
}

TEST_CASE("model description: shape errors name the layer and the shapes") {
  CHECK_THROWS_WITH_AS(build("dense 10\nconv 8 k3\n"),
                       doctest::Contains("line 2: layer 'conv1' (conv 8 k3): expects a [channels, height, width] input; input shape [10]"),
                       Error);
  CHECK_THROWS_WITH_AS(build("maxpool 2\nmaxpool 2\nmaxpool 2\nmaxpool 2\nmaxpool 2\n"),
                       doctest::Contains("line 5: layer 'maxpool5' (maxpool 2): the 2x2 window is larger than the input; input shape [1, 1, 1]"),
                       Error);
  CHECK_THROWS_WITH_AS(build("conv 4 k3 as a\nconv 8 k3 p1\nadd from a\n"),
                       doctest::Contains("layer 'add1' (add): inputs must have the same shape; input shapes [8, 26, 26], [4, 26, 26]"),
                       Error);
}

TEST_CASE("model description: named inputs make residual blocks") {
  Graph g = build("conv 4 k3 p1 as stem\nrelu\nconv 4 k3 p1\nadd from stem\nflatten\ndense classes\n", Shape{1, 9, 9}, 3);
  CHECK(g.output_shape() == Shape{3});
  Tensor x = Tensor::empty(Shape{2, 1, 9, 9});
  x.fill(0.5);
  Context ctx;
  const Tensor& y = g.forward(ctx, x);
  CHECK(y.shape() == Shape{2, 3});
}

TEST_CASE("model description: inputs of the wrong shape are refused with both shapes") {
  Graph g = build("conv 4 k3\nflatten\ndense classes\n");
  Tensor x = Tensor::zeros(Shape{2, 3, 28, 28});
  Context ctx;
  CHECK_THROWS_WITH_AS(g.forward(ctx, x), doctest::Contains("input of shape [2, 3, 28, 28] does not fit the model, which takes [batch, 1, 28, 28]"), Error);
}

TEST_CASE("model description: a network too large for memory is refused with a clear error") {
  // 1e12 parameters (4 TB, 4,003,... bytes with the first layer's): each number is within the format's limits, their product is not. The CPU
  // allocator turns the failed allocation into a quill::Error (not std::bad_alloc, which the command line
  // could only print as "std::bad_alloc"). Not in CI's ASan run, whose allocator aborts on such sizes.
  CHECK_THROWS_WITH_AS(build("dense 1000000\ndense 1000000\n"),
                       doctest::Contains("out of memory: cannot allocate 4003"), Error);
}
