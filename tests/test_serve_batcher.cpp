// The batching queue behind `quill serve`, without HTTP or timing luck: a long collection window and a
// batch limit make the batch boundaries deterministic, so the tests can say exactly which requests share
// a forward pass and check that every caller gets its own answers back.
#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "apps/serve/serve_batcher.h"

namespace {

using quill::Batcher;

// A "model" whose answer names its input: probability vector {sample[0], batch size}.
Batcher::Probabilities echo(const Batcher::Samples& samples) {
  Batcher::Probabilities out;
  for (const auto& s : samples) out.push_back({double(s.at(0)), double(samples.size())});
  return out;
}

}  // namespace

TEST_CASE("serve batcher: requests that arrive within the window share one pass, each caller gets its own rows") {
  // The window (60 s) is never reached: the batch closes when it holds max_batch = 6 samples.
  Batcher batcher(echo, /*wait_ms=*/60000, /*max_batch=*/6);
  const int callers = 3;  // two samples each: one full batch of 6
  std::vector<Batcher::Probabilities> answers(callers);
  std::vector<std::thread> threads;
  for (int c = 0; c < callers; ++c)
    threads.emplace_back([&, c] {
      answers[c] = batcher.classify({{uint8_t(10 * c + 1)}, {uint8_t(10 * c + 2)}});
    });
  for (std::thread& t : threads) t.join();
  for (int c = 0; c < callers; ++c) {
    REQUIRE(answers[c].size() == 2);
    CHECK(answers[c][0][0] == 10 * c + 1);  // this caller's samples, in its order
    CHECK(answers[c][1][0] == 10 * c + 2);
    CHECK(answers[c][0][1] == 6);  // classified together with the other callers'
  }
  const quill::BatcherStats stats = batcher.stats();
  CHECK(stats.batches == 1);
  CHECK(stats.requests == callers);
  CHECK(stats.samples == 6);
  CHECK(stats.largest_batch == 6);
}

TEST_CASE("serve batcher: a full batch never takes part of a request, and a large request runs alone") {
  Batcher batcher(echo, /*wait_ms=*/60000, /*max_batch=*/4);
  // 9 samples: more than a batch, so it closes the window at once and runs as one pass of its own.
  Batcher::Samples big;
  for (int i = 0; i < 9; ++i) big.push_back({uint8_t(i)});
  const Batcher::Probabilities r = batcher.classify(big);
  REQUIRE(r.size() == 9);
  for (int i = 0; i < 9; ++i) {
    CHECK(r[i][0] == i);
    CHECK(r[i][1] == 9);
  }
  CHECK(batcher.stats().batches == 1);
  CHECK(batcher.stats().largest_batch == 9);
}

TEST_CASE("serve batcher: a failing pass reaches every caller of that batch, and the batcher goes on") {
  std::atomic<int> passes{0};
  Batcher batcher(
      [&](const Batcher::Samples& s) {
        if (passes++ == 0) throw std::runtime_error("model failed");
        return echo(s);
      },
      /*wait_ms=*/60000, /*max_batch=*/2);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < 2; ++c)
    threads.emplace_back([&, c] {
      try {
        batcher.classify({{uint8_t(c)}});
      } catch (const std::runtime_error& e) {
        if (std::string(e.what()) == "model failed") ++failures;
      }
    });
  for (std::thread& t : threads) t.join();
  CHECK(failures == 2);
  const Batcher::Probabilities after = batcher.classify({{7}, {8}});
  REQUIRE(after.size() == 2);
  CHECK(after[1][0] == 8);
}

TEST_CASE("serve batcher: a model that answers the wrong number of rows is an error, not a crash") {
  Batcher batcher([](const Batcher::Samples&) { return Batcher::Probabilities{{1.0}}; }, /*wait_ms=*/1, 8);
  CHECK_THROWS_WITH_AS(batcher.classify({{1}, {2}}), doctest::Contains("1 rows for 2 samples"), std::logic_error);
}

TEST_CASE("serve batcher: a short window closes a batch that is not full") {
  Batcher batcher(echo, /*wait_ms=*/1, /*max_batch=*/64);
  const Batcher::Probabilities r = batcher.classify({{3}});
  REQUIRE(r.size() == 1);
  CHECK(r[0][0] == 3);
  CHECK(r[0][1] == 1);
}
