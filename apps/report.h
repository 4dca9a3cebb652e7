#pragma once
// Report images written next to a trained model and by `quill eval`: learning curves, a sheet of
// misclassified test images, and a confusion-matrix heat map. Each is drawn with Cairo (apps/plot/canvas.h)
// as a PNG at `path` and the same picture as an SVG beside it (plot::svg_path_for: X.png -> X.svg), both
// written atomically; a file that cannot be written throws quill::Error naming it.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/evaluate.h"
#include "engine/training_history.h"
#include "data/dataset.h"

namespace quill {

// Loss and accuracy per epoch, training and validation, as two side-by-side charts.
void write_learning_curves(const std::string& path, const std::vector<EpochRecord>& history);

// Up to `max_images` misclassified samples in dataset order, each labelled "true>predicted".
// Returns how many were drawn.
int write_misclassified_grid(const std::string& path, const Dataset& data, const std::vector<int32_t>& predictions,
                             int max_images = 100);

// Rows are true classes, columns predictions; a cell's shade is the square root of its share of the row,
// so rare confusions stay visible beside the diagonal.
void write_confusion_matrix(const std::string& path, const ConfusionMatrix& matrix,
                            const std::vector<std::string>& classes);

// A file beside a model: report_path("out/m.quill", "curves.png") is "out/m.curves.png".
std::string report_path(const std::string& model_path, const std::string& suffix);

}  // namespace quill
