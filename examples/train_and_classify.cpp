// Quill as a library, with no command line: train the small CNN on a few hundred handwritten digits, test
// it, save it, load it back and classify a PNG the way `quill predict` reads a user's photo.
//
//   train_and_classify DATA_DIR OUT_DIR
//
// DATA_DIR holds MNIST (as scripts/get-data.sh or scripts/run.sh leave it) or only the offline digits.
// Writes OUT_DIR/small.quill and OUT_DIR/digit.png (the first test digit, drawn as dark ink on white paper
// and enlarged, as a photo would show it). Exit status: 0, or 1 with a one-line error.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/quill.h"

namespace {

// A dataset sample (28x28, bright ink) as a photo-like picture: dark ink on white paper, each pixel
// drawn `scale` times larger, with a margin of paper around it.
quill::Image as_photo(const uint8_t* sample, int scale, int margin) {
  const quill::Image small = quill::sample_to_image(sample);  // bright ink on black, as the network sees it
  quill::Image photo(small.width * scale + 2 * margin, small.height * scale + 2 * margin, 1.0f);
  for (int y = 0; y < small.height * scale; ++y)
    for (int x = 0; x < small.width * scale; ++x) photo.at(margin + x, margin + y) = 1.0f - small.at(x / scale, y / scale);
  return photo;
}

quill::Dataset every_kth(const quill::Dataset& all, int64_t k) {
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < all.size(); i += std::max<int64_t>(k, 1)) indices.push_back(i);
  return quill::select(all, indices);
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DATA_DIR OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string out_dir = argv[2];
  std::filesystem::create_directories(out_dir);
  quill::init_backends();

  // 1. Data: about 600 training digits and 500 test digits, taken at a stride over the whole split (not
  // the first N: the offline digits are stored grouped by digit).
  quill::DataOptions data;
  data.data_dir = argv[1];
  const quill::DataSplit split = quill::load_data(data);
  const quill::Dataset train = every_kth(split.train, split.train.size() / 600);
  const quill::Dataset test = every_kth(split.test, split.test.size() / 500);
  std::printf("data: %s; %lld training and %lld test digits of it\n", split.description.c_str(),
              static_cast<long long>(train.size()), static_cast<long long>(test.size()));

  // 2. Train the built-in small model (models/small.txt) for 10 epochs on the CPU.
  quill::TrainOptions options;
  options.model_description = quill::read_text_file(quill::find_model_description("small"), "model description");
  options.epochs = 10;
  options.batch_size = 32;
  options.schedule.lr = 3e-3;
  options.seed = 1;
  quill::Trainer trainer(options, train, /*validation=*/nullptr);
  quill::TrainObserver observer;
  observer.on_epoch = [](const quill::EpochRecord& e) {
    std::printf("epoch %lld: loss %.4f, accuracy %.2f%%\n", static_cast<long long>(e.epoch), e.train_loss,
                100 * e.train_accuracy);
  };
  trainer.run(observer);

  // 3. Test it, and save it as a model file (written atomically).
  const quill::Evaluation scored = quill::evaluate(trainer.graph(), quill::Backend::Cpu, test);
  std::printf("test accuracy: %.2f%% (%lld of %lld)\n", 100 * scored.accuracy(), static_cast<long long>(scored.correct),
              static_cast<long long>(scored.count));
  const std::string model_path = out_dir + "/small.quill";
  quill::save_model_file(model_path, trainer.model_record({{"written_by", "examples/train_and_classify"}}));

  // 4. Load the file back and classify a PNG as a user's photo: preprocessed (cropped, centred, framed) the
  // way the model's training set was made.
  const std::string png_path = out_dir + "/digit.png";
  quill::write_png(png_path, as_photo(test.image(0), 4, 20));
  quill::Classifier classifier(model_path, quill::choose_placement("cpu"));
  const std::vector<uint8_t> sample = quill::preprocess_character(quill::read_png(png_path), classifier.preprocess_options());
  const std::vector<quill::ClassScore> top = classifier.top(classifier.probabilities({sample})[0], 3);
  std::printf("%s:", png_path.c_str());
  for (const quill::ClassScore& s : top) std::printf("  %s %.1f%%", s.name.c_str(), 100 * s.probability);
  std::printf("  (written as %s)\n", test.classes[test.labels[0]].c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "train_and_classify: error: %s\n", e.what());
  return 1;
}
