#pragma once
// Quill as a library: the one include for a program that trains, evaluates, saves and uses a model
// (examples/train_and_classify.cpp shows each step). Link the CMake target quill_engine; nothing of the
// command line (apps/) is needed.
//
//   init_backends()                     the op backends of this build (cpu; cuda, cudnn where built)
//   load_data(DataOptions)              a dataset with its train/test split (MNIST, EMNIST, offline digits,
//                                       image folders), or load_idx_dataset for IDX files
//   Trainer(TrainOptions, train, val)   the training loop; run(), model_record(), save_checkpoint()
//   evaluate(graph, backend, data)      accuracy and loss on a dataset
//   save_model_file / load_model_file   the .quill file, written atomically
//   Classifier(model_path, placement)   preprocesses photos as the training set was framed, and classifies
//   line_samples, read_characters       a segmented line of characters as text (engine/line_reading.h)
//   read_page(photo, classify, ...)     a page: lines, words, characters, with line context, a charset and
//                                       a lexicon (engine/page_reading.h)
#include "data/data_sources.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "data/png_io.h"
#include "data/preprocess.h"
#include "engine/classifier.h"
#include "engine/evaluate.h"
#include "engine/line_reading.h"
#include "engine/model_file.h"
#include "engine/page_reading.h"
#include "engine/model_lookup.h"
#include "engine/recipe.h"
#include "engine/trainer.h"
#include "kernels/backends.h"
#include "kernels/placement.h"
#include "runtime/error.h"
#include "runtime/text_file.h"
