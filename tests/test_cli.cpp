// The quill binary on bad input: a non-zero exit and one line on stderr, never a crash or a hang.
// With QUILL_DATA, also a short real run: train, eval, info, predict.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/model_file.h"
#include "data/idx.h"
#include "data/page_layout.h"
#include "data/png_io.h"
#include "data/preprocess.h"
#include "kernels/backends.h"
#include "layers/graph.h"
#include "layers/model_description.h"
#include "layers/schedule.h"
#include "runtime/storage.h"
#include "tests/real_data.h"
#include "tests/skip.h"

using namespace quill;
namespace fs = std::filesystem;

namespace {

struct Result {
  int status = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Sandbox {
  fs::path dir;
  Sandbox() {
    dir = fs::temp_directory_path() / ("quill-test-cli-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Sandbox() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string file(const std::string& name) const { return (dir / name).string(); }

  // Runs `quill ARGS` with a time limit (a hang fails the test instead of blocking it).
  Result quill(const std::string& args, int timeout_seconds = 60) const {
    const std::string command = "timeout " + std::to_string(timeout_seconds) + " " + QUILL_BINARY + " " + args +
                                " >" + file("stdout") + " 2>" + file("stderr") + " </dev/null";
    const int raw = std::system(command.c_str());
    Result r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128;
    r.out = slurp(file("stdout"));
    r.err = slurp(file("stderr"));
    return r;
  }
};

// One line: the message and its newline, nothing else.
bool one_line(const std::string& s) { return !s.empty() && s.find('\n') == s.size() - 1; }

// A valid model file made without training.
std::string write_tiny_model(const Sandbox& box, FramingConvention framing = FramingConvention::Mnist) {
  const std::string text = "conv 2 k3 p1\nrelu\nmaxpool 2\ndense classes\n";
  Graph g;
  add_to_graph(parse_model_description(text), 10, g);
  g.build(Shape{1, 28, 28}, DType::F32, Device::cpu(), 1);
  ModelRecord r = capture_model(g, text, {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, framing);
  const std::string path = box.file(framing == FramingConvention::Mnist ? "tiny.quill" : "tiny-emnist.quill");
  save_model_file(path, r);
  return path;
}

// Dark rings (a 0 or an o) on light paper: one per entry of `lefts`, each 24 pixels wide.
std::string write_rings(const Sandbox& box, const std::string& name, const std::vector<int>& lefts, int width) {
  Image photo(width, 60, 0.9f);
  for (int left : lefts)
    for (int y = 0; y < 60; ++y)
      for (int x = 0; x < 24; ++x) {
        const float dx = (x - 11.5f) / 12, dy = (y - 29.5f) / 20, r = dx * dx + dy * dy;
        if (r < 1.0f && r > 0.45f) photo.at(left + x, y) = 0.1f;
      }
  const std::string path = box.file(name);
  write_png(path, photo);
  return path;
}

nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(slurp(path));  // throws (failing the test) when it does not parse
}

}  // namespace

TEST_CASE("cli: --help works for every subcommand") {
  Sandbox box;
  const Result top = box.quill("--help");
  CHECK(top.status == 0);
  for (const char* cmd : {"train", "eval", "predict", "read", "info", "bench", "gradcheck", "export"}) {
    CAPTURE(cmd);
    const Result r = box.quill(std::string(cmd) + " --help");
    CHECK(r.status == 0);
    CHECK(r.out.find("--") != std::string::npos);
    CHECK(top.out.find(cmd) != std::string::npos);
  }
}

TEST_CASE("cli: an unknown option or a missing subcommand is a one-line usage error") {
  Sandbox box;
  Result r = box.quill("train --no-such-option 3");
  CHECK(r.status != 0);
  CHECK(one_line(r.err));
  CHECK(r.err.find("--no-such-option") != std::string::npos);
  r = box.quill("");
  CHECK(r.status != 0);
  CHECK(one_line(r.err));
  r = box.quill("train --epochs many");
  CHECK(r.status != 0);
  CHECK(one_line(r.err));
  r = box.quill("frobnicate");
  CHECK(r.status == 2);
  CHECK(one_line(r.err));
  CHECK(r.err.find("unknown subcommand 'frobnicate': expected one of train, eval, predict, read, info, bench, "
                   "gradcheck, serve, export") != std::string::npos);
  r = box.quill("");
  CHECK(r.status == 2);
  CHECK(r.err.find("a subcommand is required: one of train, eval") != std::string::npos);
  r = box.quill("--no-such-option");
  CHECK(r.status == 2);
  CHECK(r.err.find("unknown option '--no-such-option': expected a subcommand first") != std::string::npos);
}

TEST_CASE("cli: a folder where a file is expected, or an empty model file, is said to be one") {
  Sandbox box;
  const std::string model = write_tiny_model(box);
  std::filesystem::create_directories(box.file("photos"));
  for (const char* cmd : {"predict", "read"}) {
    CAPTURE(cmd);
    const Result r = box.quill(std::string(cmd) + " --model " + model + " " + box.file("photos"));
    CHECK(r.status == 1);
    CHECK(one_line(r.err));
    CHECK(r.err.find(box.file("photos") + ": is a folder, not a PNG file (to use the images in it, give them: " +
                     box.file("photos") + "/*.png)") != std::string::npos);
  }
  std::ofstream(box.file("empty.quill")).close();
  for (const std::string& cmd : {"info --model " + box.file("empty.quill"), "predict --model " + box.file("empty.quill") + " x.png"}) {
    CAPTURE(cmd);
    const Result r = box.quill(cmd);
    CHECK(r.status == 1);
    CHECK(one_line(r.err));
    CHECK(r.err.find("model file '" + box.file("empty.quill") + "' is empty (0 bytes): not a quill model") != std::string::npos);
  }
}

TEST_CASE("cli: a missing model file is a one-line error") {
  Sandbox box;
  const Result r = box.quill("info --model " + box.file("absent.quill"));
  CHECK(r.status == 1);
  CHECK(one_line(r.err));
  CHECK(r.err.rfind("quill: error: cannot open model file", 0) == 0);
}

TEST_CASE("cli: a corrupt model file is a one-line error") {
  Sandbox box;
  const std::string path = write_tiny_model(box);
  std::string bytes = slurp(path);
  bytes[bytes.size() / 2] ^= 0x55;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  for (const std::string& cmd : {"info --model " + path, "eval --model " + path + " --dataset mnist --data-dir " + box.file("none"),
                                 "predict --model " + path + " x.png"}) {
    CAPTURE(cmd);
    const Result r = box.quill(cmd);
    CHECK(r.status == 1);
    CHECK(one_line(r.err));
    CHECK(r.err.find("checksum") != std::string::npos);
  }
  std::ofstream(box.file("text.quill")) << "hello\n";
  const Result r = box.quill("info --model " + box.file("text.quill"));
  CHECK(r.status == 1);
  CHECK(one_line(r.err));
  CHECK(r.err.find("not a quill model") != std::string::npos);
}

TEST_CASE("cli: predicting a file that is not a PNG is a one-line error") {
  Sandbox box;
  const std::string model = write_tiny_model(box);
  std::ofstream(box.file("notes.png")) << "this is text, not an image\n";
  Result r = box.quill("predict --model " + model + " " + box.file("notes.png"));
  CHECK(r.status == 1);
  CHECK(one_line(r.err));
  CHECK(r.err.find("notes.png") != std::string::npos);
  r = box.quill("predict --model " + model + " " + box.file("missing.png"));
  CHECK(r.status == 1);
  CHECK(one_line(r.err));
  r = box.quill("read --model " + model + " " + box.file("notes.png"));
  CHECK(r.status == 1);
  CHECK(one_line(r.err));
}

TEST_CASE("cli: --device cuda without a GPU is a one-line error") {
  init_backends();
  if (device_available(DeviceType::Cuda)) {
    test::skip_test_case(device_description(DeviceType::Cuda).emulated
                             ? "this build runs CUDA on the CPU emulation (the case checks the error without a device)"
                             : "this machine has a CUDA device (the case checks the error without one)");
    return;
  }
  Sandbox box;
  const std::string model = write_tiny_model(box);
  for (const std::string& cmd : {std::string("bench --model small --device cuda"),
                                 "train --model small --device cuda --out " + box.file("m.quill"),
                                 "predict --device cuda --model " + model + " x.png"}) {
    CAPTURE(cmd);
    const Result r = box.quill(cmd);
    CHECK(r.status == 1);
    CHECK(one_line(r.err));
    CHECK(r.err.find("--device cuda") != std::string::npos);
    // The cause, not only the symptom: a CPU-only build, no driver, a driver too old, no kernel image.
    const std::string reason = device_unavailable_reason(DeviceType::Cuda);
    CHECK(!reason.empty());
    CHECK(r.err.find(reason) != std::string::npos);
  }
}

TEST_CASE("cli: train --math tf32 on the cpu is a one-line error (the CPU computes in float32 only)") {
  Sandbox box;
  const Result r = box.quill("train --model small --device cpu --math tf32 --out " + box.file("m.quill"));
  CHECK(r.status == 1);
  CHECK(one_line(r.err));
  CHECK(r.err.find("--math tf32") != std::string::npos);
}

TEST_CASE("cli: a missing built-in model or dataset is a one-line error") {
  Sandbox box;
  Result r = box.quill("bench --model no-such-model");
  CHECK(r.status == 1);
  CHECK(one_line(r.err));
  r = box.quill("train --model small --dataset mnist --data-dir " + box.file("empty") + " --out " + box.file("m.quill"));
  CHECK(r.status == 1);
  CHECK(one_line(r.err));
  CHECK(r.err.find("MNIST") != std::string::npos);
}

// Official MNIST, or the offline digits (--dataset mnist-offline) when that is all QUILL_DATA holds.
TEST_CASE("cli: train, eval, info and predict on real MNIST (QUILL_DATA)") {
  const test::TrainData data = test::real_digits_train_data_or_skip();
  if (data.empty()) return;
  Sandbox box;
  const std::string model = box.file("m.quill");
  Result r = box.quill("train " + data.options() +
                       " --model small --epochs 1 --train-limit 1000 --test-limit 300 --batch 50 --seed 3 --device cpu --out " +
                       model, 120);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("test accuracy: ") == 0);
  CHECK(fs::exists(model));
  CHECK(fs::exists(model + ".ckpt"));
  for (const char* report : {"m.curves", "m.errors", "m.confusion"}) {  // each a PNG with an SVG beside it
    CHECK_MESSAGE(fs::exists(box.file(std::string(report) + ".png")), report);
    CHECK_MESSAGE(fs::exists(box.file(std::string(report) + ".svg")), report);
  }

  r = box.quill("eval --model " + model + " --confusion " + box.file("c.png"));
  CHECK(r.status == 0);
  CHECK(r.out.find("accuracy: ") != std::string::npos);
  CHECK(fs::exists(box.file("c.png")));
  CHECK(fs::exists(box.file("c.svg")));

  r = box.quill("info --model " + model);
  CHECK(r.status == 0);
  CHECK(r.out.find("total parameters") != std::string::npos);
  CHECK(r.out.find("test accuracy") != std::string::npos);

  // A test digit drawn as dark ink on white paper, three times larger and off-centre, as a user would.
  const Dataset digit = test::real_digits_or_skip(test::DigitsPart::Test, 1);
  REQUIRE(digit.size() == 1);
  Image photo(120, 100, 1.0f);
  for (int y = 0; y < 84; ++y)
    for (int x = 0; x < 84; ++x) photo.at(x + 30, y + 8) = 1.0f - digit.image(0)[(y / 3) * 28 + x / 3] / 255.0f;
  write_png(box.file("digit.png"), photo);
  r = box.quill("predict --model " + model + " --top-k 2 --save-input " + box.file("seen") + " " + box.file("digit.png"));
  CHECK(r.status == 0);
  CHECK(r.out.find(box.file("digit.png") + ":") == 0);
  CHECK(fs::exists(box.file("seen/digit.input.png")));
}

// bench/torch_accuracy.py builds its PyTorch network, optimizer and learning rates from this JSON alone.
TEST_CASE("cli: train --plan prints the resolved run: the built network, the recipe, every step's learning rate") {
  if (test::official_mnist_dir_or_skip().empty()) return;
  Sandbox box;
  // The built-in recipe (models/recipes/mnist.txt) applies; --epochs and --batch on the command line win.
  Result r = box.quill("train --plan --dataset mnist --data-dir " + test::data_root() +
                       " --train-limit 1000 --test-limit 500 --epochs 2 --batch 100 --seed 5 --out " +
                       box.file("never/m.quill"));
  REQUIRE(r.status == 0);
  CHECK(r.err.empty());
  CHECK(!fs::exists(box.file("never")));  // nothing is written
  const nlohmann::json plan = nlohmann::json::parse(r.out);

  // models/cnn.txt's layers in order, with their settings as built.
  const nlohmann::json& layers = plan.at("network").at("layers");
  const std::vector<std::string> kinds = {"conv", "bn",      "relu",  "conv", "bn",    "relu",
                                          "maxpool", "conv", "bn",    "relu", "conv",  "bn",
                                          "relu",  "maxpool", "dense", "relu", "dropout", "dense"};
  REQUIRE(layers.size() == kinds.size());
  int64_t sum = 0;
  for (size_t i = 0; i < kinds.size(); ++i) {
    CAPTURE(i);
    CHECK(layers[i].at("kind") == kinds[i]);
    CHECK(layers[i].at("index") == i);
    CHECK(layers[i].at("inputs") == nlohmann::json::array({i == 0 ? std::string("input") : layers[i - 1].at("name").get<std::string>()}));
    sum += layers[i].at("parameters").get<int64_t>();
  }
  const nlohmann::json& conv = layers[0].at("attributes");
  CHECK(conv == nlohmann::json({{"filters", 32}, {"kernel", 3}, {"stride", 1}, {"pad", 1}, {"bias", true}}));
  CHECK(layers[0].at("output_shape") == nlohmann::json::array({32, 28, 28}));
  CHECK(layers[0].at("params")[0].at("init") == "he_normal");
  CHECK(layers[0].at("params")[0].at("fan_in") == 9);
  CHECK(layers[1].at("attributes").at("eps") == 1e-5);
  CHECK(layers[1].at("attributes").at("momentum") == 0.1);
  CHECK(layers[1].at("buffers").size() == 2);
  CHECK(layers[2].at("attributes").at("activation") == "relu");
  CHECK(layers[13].at("output_shape") == nlohmann::json::array({64, 7, 7}));
  CHECK(layers[14].at("input_shapes") == nlohmann::json::array({nlohmann::json::array({64, 7, 7})}));
  CHECK(layers[16].at("attributes").at("p") == 0.5);
  CHECK(layers[17].at("attributes").at("units") == 10);
  CHECK(plan.at("network").at("output_shape") == nlohmann::json::array({10}));

  // The parameter total: the layers' sum, and the count of the same description built here.
  Graph g;
  add_to_graph(parse_model_description(slurp(std::string(QUILL_SOURCE_DIR) + "/models/cnn.txt")), 10, g);
  g.build(Shape{1, 28, 28}, DType::F32, Device::cpu(), 1);
  CHECK(plan.at("network").at("parameters") == g.num_params());
  CHECK(sum == g.num_params());
  CHECK(g.num_params() == 871018);  // what `quill train` and `quill info` print for cnn on 10 classes

  // The recipe's values, and the command line's.
  const nlohmann::json& t = plan.at("training");
  CHECK(plan.at("recipe").at("path").get<std::string>().find("mnist.txt") != std::string::npos);
  CHECK(plan.at("recipe").at("overridden_by_command_line") == nlohmann::json::array({"--epochs", "--batch"}));
  CHECK(t.at("epochs") == 2);
  CHECK(t.at("batch_size") == 100);
  CHECK(t.at("seed") == 5);
  CHECK(t.at("optimizer").at("kind") == "adamw");
  CHECK(t.at("optimizer").at("weight_decay") == 0.01);
  CHECK(t.at("schedule").at("kind") == "onecycle");
  CHECK(t.at("schedule").at("lr") == 0.003);
  CHECK(t.at("label_smoothing") == 0.1);
  CHECK(t.at("augment") == "affine");
  const nlohmann::json& d = plan.at("data");
  CHECK(d.at("val_split") == 0);
  CHECK(d.at("train_images") == 1000);
  CHECK(d.at("validation_images") == 0);
  CHECK(d.at("test_images") == 500);
  CHECK(d.at("class_names").size() == 10);

  // Every step's learning rate: 2 epochs of 10 batches, one-cycle from 0.003/25 up to 0.003 at step 5
  // (max(1, 0.3 * 20 - 1)), down to 0.003/25/1e4; each the schedule's own value.
  CHECK(t.at("batches_per_epoch") == 10);
  CHECK(t.at("total_steps") == 20);
  const nlohmann::json& rates = plan.at("learning_rates");
  REQUIRE(rates.size() == 20);
  ScheduleConfig onecycle;
  onecycle.kind = "onecycle";
  onecycle.lr = 0.003;
  const LrSchedule schedule(onecycle, 20);
  for (int step : {0, 1, 5, 12, 19}) CHECK(rates[step].get<double>() == schedule.at(step));
  CHECK(rates[0].get<double>() == doctest::Approx(0.003 / 25));
  CHECK(rates[5].get<double>() == doctest::Approx(0.003));
  CHECK(rates[19].get<double>() == doctest::Approx(0.003 / 25 / 1e4));

  // No recipe: the optimizer's defaults, a step schedule decaying at a third and two thirds of the run, a
  // validation split.
  r = box.quill("train --plan --recipe none --dataset mnist --data-dir " + test::data_root() +
                " --model small --train-limit 1000 --val-split 10 --optimizer sgd --schedule step --epochs 3 --batch 100");
  REQUIRE(r.status == 0);
  const nlohmann::json small = nlohmann::json::parse(r.out);
  CHECK(small.at("recipe").is_null());
  CHECK(small.at("training").at("optimizer").at("weight_decay") == 5e-4);
  CHECK(small.at("training").at("schedule").at("lr") == 0.05);
  CHECK(small.at("training").at("schedule").at("step_size") == 9);  // 3 epochs of 9 batches / 3
  CHECK(small.at("data").at("train_images") == 900);
  CHECK(small.at("data").at("validation_images") == 100);
  const nlohmann::json& steps = small.at("learning_rates");
  REQUIRE(steps.size() == 27);
  CHECK(steps[8].get<double>() == doctest::Approx(0.05));
  CHECK(steps[9].get<double>() == doctest::Approx(0.005));
  CHECK(steps[26].get<double>() == doctest::Approx(0.0005));
  CHECK(small.at("network").at("layers").back().at("attributes").at("units") == 10);
}

TEST_CASE("cli: predict --json writes each image's top classes, and its error for a bad image") {
  Sandbox box;
  const std::string model = write_tiny_model(box);
  const std::string ring = write_rings(box, "ring.png", {30}, 90);
  std::ofstream(box.file("notes.png")) << "this is text, not an image\n";
  const std::string json = box.file("p.json");
  Result r =
      box.quill("predict --model " + model + " --top-k 2 --json " + json + " " + ring + " " + box.file("notes.png"));
  CHECK(r.status == 1);  // one image failed
  CHECK(one_line(r.err));
  CHECK(r.out.find(ring + ":") == 0);  // the terminal output is unchanged
  REQUIRE(fs::exists(json));
  const nlohmann::json j = read_json(json);
  CHECK(j.at("model") == model);
  REQUIRE(j.at("images").size() == 2);
  const nlohmann::json& first = j["images"][0];
  CHECK(first.at("path") == ring);
  REQUIRE(first.at("top").size() == 2);
  double previous = 1.0;
  for (const nlohmann::json& s : first["top"]) {
    CHECK(s.at("label").get<std::string>().size() == 1);
    CHECK(s.at("index").get<int>() == std::stoi(s["label"].get<std::string>()));  // MNIST classes are "0".."9"
    const double p = s.at("probability").get<double>();
    CHECK(p >= 0.0);
    CHECK(p <= previous);
    previous = p;
  }
  CHECK(j["images"][1].at("path") == box.file("notes.png"));
  CHECK(j["images"][1].at("error").get<std::string>().find("notes.png") != std::string::npos);
  CHECK(!j["images"][1].contains("top"));
}

TEST_CASE("cli: read --json writes the text, characters, boxes and classes, and several images one line each") {
  Sandbox box;
  const std::string model = write_tiny_model(box);
  const std::string line = write_rings(box, "line.png", {20, 70, 120}, 170);
  const std::string two = write_rings(box, "two.png", {20, 70}, 120);
  const std::string json = box.file("r.json");
  Result r = box.quill("read --model " + model + " --json " + json + " " + line);
  REQUIRE(r.status == 0);
  CHECK(r.err.empty());
  // One image: the text, then a line per character, as without --json.
  std::istringstream lines(r.out);
  std::string text, row;
  std::getline(lines, text);
  CHECK(text.size() == 3);
  int rows = 0;
  while (std::getline(lines, row)) ++rows;
  CHECK(rows == 3);
  const nlohmann::json j = read_json(json);
  CHECK(j.at("model") == model);
  REQUIRE(j.at("images").size() == 1);
  const nlohmann::json& image = j["images"][0];
  CHECK(image.at("path") == line);
  CHECK(image.at("text") == text);
  REQUIRE(image.at("characters").size() == 3);
  int previous_x = -1;
  for (size_t i = 0; i < 3; ++i) {
    const nlohmann::json& c = image["characters"][i];
    CHECK(c.at("x").get<int>() > previous_x);  // left to right
    previous_x = c["x"].get<int>();
    CHECK(c.at("width").get<int>() > 10);
    CHECK(c.at("height").get<int>() > 30);
    CHECK(c.at("y").get<int>() >= 0);
    CHECK(c.at("space_before") == false);
    REQUIRE(c.at("top").size() >= 1);
    CHECK(c["top"][0].at("label") == std::string(1, text[i]));
    CHECK(c["top"][0].at("probability").get<double>() > 0.0);
  }

  // Several images: "PATH: TEXT" per image; a bad one is reported and the others still read.
  std::ofstream(box.file("notes.png")) << "this is text, not an image\n";
  r = box.quill("read --model " + model + " --json " + json + " " + line + " " + box.file("notes.png") + " " + two);
  CHECK(r.status == 1);
  CHECK(one_line(r.err));
  CHECK(r.err.find("notes.png") != std::string::npos);
  CHECK(r.out.rfind(line + ": " + text + "\n" + two + ": ", 0) == 0);
  CHECK(r.out.size() == line.size() + text.size() + two.size() + 2 * 3 + 2);  // ... and two characters
  const nlohmann::json k = read_json(json);
  REQUIRE(k.at("images").size() == 3);
  CHECK(k["images"][0].at("text") == text);
  CHECK(k["images"][1].contains("error"));
  CHECK(k["images"][2].at("characters").size() == 2);
}

TEST_CASE("cli: an unwritable --json path is a one-line error before any work") {
  Sandbox box;
  const std::string model = write_tiny_model(box);
  const std::string ring = write_rings(box, "ring.png", {30}, 90);
  for (const std::string& cmd : {std::string("predict"), std::string("read")}) {
    for (const std::string& path : {box.file("no-such-folder/out.json"), box.dir.string()}) {
      CAPTURE(cmd);
      CAPTURE(path);
      const Result r = box.quill(cmd + " --model " + model + " --json " + path + " " + ring);
      CHECK(r.status == 1);
      CHECK(one_line(r.err));
      CHECK(r.err.find("--json") != std::string::npos);
      CHECK(r.out.empty());
    }
  }
}

TEST_CASE("cli: predict and read fit thin strokes to the training range unless --keep-stroke-width") {
  Sandbox box;
  Image photo(120, 120, 0.9f);  // a ring 80 pixels wide drawn with a 3-pixel pen
  for (int y = 0; y < 120; ++y)
    for (int x = 0; x < 120; ++x)
      if (std::fabs(std::hypot(x - 59.5, (y - 59.5) * 0.8) - 40) < 1.5) photo.at(x, y) = 0.1f;
  const std::string thin = box.file("thin.png");
  write_png(thin, photo);
  for (FramingConvention framing : {FramingConvention::Mnist, FramingConvention::Emnist}) {
    const bool emnist = framing == FramingConvention::Emnist;
    CAPTURE(emnist);
    const std::string model = write_tiny_model(box, framing);
    double width[2];
    for (int keep = 0; keep < 2; ++keep) {
      const std::string seen = box.file(std::string(emnist ? "emnist-" : "mnist-") + (keep ? "kept" : "fitted"));
      Result r = box.quill("predict --model " + model + " --save-input " + seen + (keep ? " --keep-stroke-width " : " ") + thin);
      REQUIRE(r.status == 0);
      width[keep] = sample_stroke_width(image_to_sample(read_png(seen + "/thin.input.png")).data());
      r = box.quill("read --model " + model + (keep ? " --keep-stroke-width " : " ") + thin);
      CHECK(r.status == 0);
    }
    const StrokeWidthRange range = stroke_width_range(framing);
    MESSAGE("thin ring: stroke width ", width[1], " kept, ", width[0], " fitted (range ", range.min, "..", range.max,
            ", thin strokes to ", range.thin_target, ")");
    CHECK(width[1] < range.min);
    CHECK(width[0] == doctest::Approx(range.thin_target).epsilon(0.05));
  }
}

// Ctrl-C or SIGTERM during training: the step in progress finishes, a checkpoint of the position is written,
// the exit status is 128 + the signal, and the run continues from the checkpoint. (SIGTERM here: a
// background process started by a shell may have SIGINT ignored, which quill then respects.)
TEST_CASE("cli: SIGTERM during train writes a checkpoint to resume from and exits 143") {
  const test::TrainData data = test::real_digits_train_data_or_skip();
  if (data.empty()) return;
  Sandbox box;
  const std::string model = box.file("run.quill");
  // 200 epochs of 40 small steps: far longer than the test waits before the signal.
  const std::vector<std::string> args = {QUILL_BINARY, "train", "--dataset", data.dataset, "--data-dir", data.data_dir,
                                         "--model", "small", "--epochs", "200", "--train-limit", "2000",
                                         "--test-limit", "100", "--batch", "50", "--device", "cpu", "--out", model};
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 1, box.file("stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&files, 2, box.file("stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, QUILL_BINARY, &files, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&files);

  // Wait for the first step's progress (at most 60 s), then signal.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (slurp(box.file("stderr")).find("epoch 1/200") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  REQUIRE(kill(pid, SIGTERM) == 0);
  int raw = 0;
  pid_t done = 0;
  while ((done = waitpid(pid, &raw, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline + std::chrono::seconds(30))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (done == 0) {  // a hang: kill it and fail
    kill(pid, SIGKILL);
    waitpid(pid, &raw, 0);
    FAIL("quill train did not stop within 30 s of SIGTERM");
  }
  const std::string log = slurp(box.file("stderr"));  // progress and notes go to stderr
  INFO("stderr: ", log);
  REQUIRE(WIFEXITED(raw));
  CHECK(WEXITSTATUS(raw) == 128 + SIGTERM);
  CHECK(log.find("interrupted (SIGTERM) in epoch ") != std::string::npos);
  CHECK(log.find("continue with: quill train --resume " + model + ".ckpt") != std::string::npos);
  CHECK_FALSE(fs::exists(model));  // not finished: no model, only the checkpoint
  REQUIRE(fs::exists(model + ".ckpt"));

  const Result resumed = box.quill("train --resume " + model + ".ckpt --stop-after 1", 120);
  CHECK(resumed.status == 0);
  CHECK(resumed.err.find("resuming " + model + ".ckpt at epoch ") != std::string::npos);
  CHECK(resumed.err.find("stopped after epoch ") != std::string::npos);
}

namespace {

// A page of dark rings on light paper: lines[l] holds the number of rings of each word of line l. Rings are
// 24 pixels wide and 40 tall, 6 apart within a word and 40 between words; lines 80 apart (a ring's height
// of paper between them).
std::string write_ring_page(const Sandbox& box, const std::string& name, const std::vector<std::vector<int>>& lines) {
  int width = 0;
  std::vector<std::vector<int>> lefts(lines.size());
  for (size_t l = 0; l < lines.size(); ++l) {
    int x = 20;
    for (size_t w = 0; w < lines[l].size(); ++w) {
      if (w) x += 40 - 6;
      for (int k = 0; k < lines[l][w]; ++k) lefts[l].push_back(x), x += 30;
    }
    width = std::max(width, x + 20);
  }
  Image page(width, int(lines.size()) * 80 + 20, 0.9f);
  for (size_t l = 0; l < lines.size(); ++l)
    for (int left : lefts[l])
      for (int y = 0; y < 40; ++y)
        for (int x = 0; x < 24; ++x) {
          const float dx = (x - 11.5f) / 12, dy = (y - 19.5f) / 20, r = dx * dx + dy * dy;
          if (r < 1.0f && r > 0.45f) page.at(left + x, 20 + int(l) * 80 + y) = 0.1f;
        }
  const std::string path = box.file(name);
  write_png(path, page);
  return path;
}

// The lengths of the words of a line of text.
std::vector<int> word_lengths(const std::string& line) {
  std::vector<int> out;
  std::istringstream words(line);
  std::string w;
  while (words >> w) out.push_back(int(w.size()));
  return out;
}

// A model of ByClass-like classes (letters first, then digits) whose weights are all zero: every sample
// reads as every class equally, so what a reading says comes from its charset and context alone.
std::string write_flat_letters_model(const Sandbox& box) {
  std::vector<std::string> classes;
  for (char c = 'a'; c <= 'z'; ++c) classes.push_back(std::string(1, c));
  for (char c = 'A'; c <= 'Z'; ++c) classes.push_back(std::string(1, c));
  for (char c = '0'; c <= '9'; ++c) classes.push_back(std::string(1, c));
  const std::string text = "conv 2 k3 p1\nrelu\nmaxpool 2\ndense classes\n";
  Graph g;
  add_to_graph(parse_model_description(text), int(classes.size()), g);
  g.build(Shape{1, 28, 28}, DType::F32, Device::cpu(), 1);
  float* values = g.flat_values().data<float>();
  std::fill(values, values + g.flat_values().numel(), 0.0f);
  const std::string path = box.file("flat-letters.quill");
  save_model_file(path, capture_model(g, text, classes, FramingConvention::Emnist));
  return path;
}

// A white 1-bit grey PNG of side x side pixels, deflated row by row: a 10000x10000 image in a few kB.
std::string write_huge_white_png(const Sandbox& box, const std::string& name, uint32_t side) {
  auto chunk = [](std::string& out, const char* tag, const std::string& body) {
    auto u32 = [&](uint32_t v) {
      for (int s = 24; s >= 0; s -= 8) out += char((v >> s) & 0xff);
    };
    u32(uint32_t(body.size()));
    const std::string tagged = std::string(tag, 4) + body;
    out += tagged;
    u32(uint32_t(crc32(0, reinterpret_cast<const Bytef*>(tagged.data()), uInt(tagged.size()))));
  };
  std::string ihdr;
  for (uint32_t v : {side, side})
    for (int s = 24; s >= 0; s -= 8) ihdr += char((v >> s) & 0xff);
  ihdr += std::string("\x01\x00\x00\x00\x00", 5);  // depth 1, grey, deflate, no filter, no interlace
  z_stream z{};
  REQUIRE(deflateInit(&z, Z_BEST_COMPRESSION) == Z_OK);
  std::string row(1 + (side + 7) / 8, '\xff'), idat;
  row[0] = 0;  // filter: none
  std::vector<unsigned char> buffer(1 << 16);
  for (uint32_t y = 0; y < side; ++y) {
    z.next_in = reinterpret_cast<Bytef*>(row.data());
    z.avail_in = uInt(row.size());
    const int flush = y + 1 == side ? Z_FINISH : Z_NO_FLUSH;
    do {
      z.next_out = buffer.data();
      z.avail_out = uInt(buffer.size());
      deflate(&z, flush);
      idat.append(reinterpret_cast<char*>(buffer.data()), buffer.size() - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  std::string png = "\x89PNG\r\n\x1a\n";
  chunk(png, "IHDR", ihdr);
  chunk(png, "IDAT", idat);
  chunk(png, "IEND", "");
  const std::string path = box.file(name);
  std::ofstream(path, std::ios::binary) << png;
  return path;
}

}  // namespace

TEST_CASE("cli: read a page prints its lines and words in order, and --json has lines, words and seconds") {
  Sandbox box;
  const std::string model = write_tiny_model(box);
  const std::vector<std::vector<int>> lines = {{2, 3}, {4}, {1, 2}};
  const std::string page = write_ring_page(box, "page.png", lines);
  const std::string json = box.file("page.json");
  const Result r = box.quill("read --model " + model + " --json " + json + " " + page);
  REQUIRE(r.status == 0);
  CHECK(r.err.empty());
  std::istringstream out(r.out);
  std::string text;
  for (size_t l = 0; l < lines.size(); ++l) {
    std::string line;
    REQUIRE(std::getline(out, line));
    CAPTURE(line);
    CHECK(word_lengths(line) == lines[l]);
    text += (l ? "\n" : "") + line;
  }
  std::string summary;
  REQUIRE(std::getline(out, summary));
  CHECK(summary.find(std::to_string(lines.size()) + " lines") != std::string::npos);

  const nlohmann::json j = read_json(json);
  REQUIRE(j.at("images").size() == 1);
  const nlohmann::json& image = j["images"][0];
  CHECK(image.at("text") == text);
  CHECK(image.at("seconds").get<double>() >= 0.0);
  CHECK(std::abs(image.at("skew_degrees").get<double>()) <= 1.0);
  REQUIRE(image.at("lines").size() == lines.size());
  int previous_y = -1;
  size_t characters = 0;
  for (size_t l = 0; l < lines.size(); ++l) {
    const nlohmann::json& line = image["lines"][l];
    CHECK(line.at("y").get<int>() > previous_y);
    previous_y = line["y"].get<int>();
    REQUIRE(line.at("words").size() == lines[l].size());
    std::string joined;
    for (size_t w = 0; w < lines[l].size(); ++w) {
      const nlohmann::json& word = line["words"][w];
      CHECK(word.at("count").get<int>() == lines[l][w]);
      CHECK(word.at("text").get<std::string>().size() == size_t(lines[l][w]));
      CHECK(!word.contains("lexicon"));
      joined += (w ? " " : "") + word["text"].get<std::string>();
      characters += size_t(lines[l][w]);
    }
    CHECK(line.at("text") == joined);
  }
  CHECK(image.at("characters").size() == characters);
}

TEST_CASE("cli: read --charset keeps the reading to the set, a class the model lacks is a one-line error") {
  Sandbox box;
  const std::string flat = write_flat_letters_model(box);
  const std::string page = write_ring_page(box, "page.png", {{2, 3}, {3}});
  Result r = box.quill("read --model " + flat + " " + page);
  REQUIRE(r.status == 0);
  const std::string free_text = r.out.substr(0, r.out.find("\n  ("));
  CAPTURE(free_text);
  // Without a charset the model (every class equally likely) reads letters ...
  REQUIRE(std::any_of(free_text.begin(), free_text.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); }));
  for (const std::string& set : {std::string("digits"), std::string("7")}) {
    CAPTURE(set);
    r = box.quill("read --model " + flat + " --charset " + set + " " + page);
    REQUIRE(r.status == 0);
    const std::string text = r.out.substr(0, r.out.find("\n  ("));
    CAPTURE(text);
    CHECK(word_lengths(text.substr(0, text.find('\n'))) == std::vector<int>{2, 3});
    for (char c : text) {
      if (c == ' ' || c == '\n') continue;
      CHECK(std::isdigit(static_cast<unsigned char>(c)));
      if (set == "7") CHECK(c == '7');
    }
  }
  const std::string model = write_tiny_model(box);  // classes 0-9
  for (const std::string& set : {std::string("Q"), std::string("12x"), std::string("letters")}) {
    CAPTURE(set);
    r = box.quill("read --model " + model + " --charset " + set + " " + page);
    CHECK(r.status == 1);
    CHECK(one_line(r.err));
    CHECK(r.out.empty());
  }
  CHECK(r.err.find("none") != std::string::npos);
  r = box.quill("read --model " + model + " --charset Q " + page);
  CHECK(r.err.find("'Q'") != std::string::npos);
}

TEST_CASE("cli: read refuses a missing or binary --lexicon and --context maybe, with one line") {
  Sandbox box;
  const std::string model = write_tiny_model(box);
  const std::string page = write_ring_page(box, "page.png", {{2}, {1}});
  Result r = box.quill("read --model " + model + " --lexicon " + box.file("no-such-words.txt") + " " + page);
  CHECK(r.status == 1);
  CHECK(one_line(r.err));
  CHECK(r.err.find("no-such-words.txt") != std::string::npos);
  CHECK(r.out.empty());

  std::ofstream(box.file("binary.txt"), std::ios::binary) << std::string("hello\nwor\0ld\n", 12);
  r = box.quill("read --model " + model + " --lexicon " + box.file("binary.txt") + " " + page);
  CHECK(r.status == 1);
  CHECK(one_line(r.err));
  CHECK(r.err.find("binary.txt:2") != std::string::npos);
  CHECK(r.err.find("NUL") != std::string::npos);
  CHECK(r.out.empty());

  r = box.quill("read --model " + model + " --context maybe " + page);
  CHECK(r.status != 0);
  CHECK(one_line(r.err));
  CHECK(r.err.find("--context") != std::string::npos);
  CHECK(r.out.empty());

  // A good lexicon: each word says whether it matched.
  std::ofstream(box.file("words.txt")) << "# words\nhello\r\n";
  const std::string json = box.file("lexicon.json");
  r = box.quill("read --model " + model + " --lexicon " + box.file("words.txt") + " --json " + json + " " + page);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("lexicon:") != std::string::npos);
  const nlohmann::json read = read_json(json);  // kept: a loop over a part of a temporary would dangle
  for (const nlohmann::json& line : read["images"][0].at("lines"))
    for (const nlohmann::json& word : line.at("words")) CHECK(word.contains("lexicon"));
}

TEST_CASE("cli: read refuses a blank page and a 10000x10000 image quickly, with one line and exit code 1") {
  Sandbox box;
  const std::string model = write_tiny_model(box);
  const std::string blank = box.file("blank.png");
  write_png(blank, Image(400, 300, 1.0f));
  Result r = box.quill("read --model " + model + " " + blank, 30);
  CHECK(r.status == 1);
  CHECK(one_line(r.err));
  CHECK(r.err.find("blank.png") != std::string::npos);
  CHECK((r.err.find("no ink") != std::string::npos || r.err.find("no text") != std::string::npos));

  const std::string huge = write_huge_white_png(box, "huge.png", 10000);
  CHECK(fs::file_size(huge) < 200000);
  const auto t0 = std::chrono::steady_clock::now();
  r = box.quill("read --model " + model + " " + huge, 30);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(r.status == 1);
  CHECK(one_line(r.err));
  CHECK(r.err.find("10000x10000") != std::string::npos);
  CHECK(r.err.find(std::to_string(kMaxPageSide)) != std::string::npos);
  MESSAGE("a 10000x10000 page refused in ", seconds, " s");
  // Refused from the header, before decoding: the same header with its pixels cut short says the size, not
  // that the data ends early (which decoding it would find).
  std::string bytes = slurp(huge);
  bytes.resize(bytes.size() / 2);
  std::ofstream(box.file("huge-cut.png"), std::ios::binary) << bytes;
  r = box.quill("read --model " + model + " " + box.file("huge-cut.png"), 30);
  CHECK(r.status == 1);
  CHECK(one_line(r.err));
  CHECK(r.err.find(std::to_string(kMaxPageSide)) != std::string::npos);
}
