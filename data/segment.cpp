#include "data/segment.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "runtime/error.h"

namespace quill {
namespace {

// Components this much smaller than the largest are noise, dropped before grouping ...
constexpr float kNoiseFraction = 0.005f;
// ... and so are those smaller than this many squared stroke widths: less than a pen's dot is not writing.
constexpr float kDotArea = 0.5f;
// Groups at least this part of the largest are candidates for what a typical character looks like.
constexpr float kCandidateFraction = 0.05f;
// A group at least this part of a typical character's height is writing, however little ink it has.
constexpr float kSpeckHeight = 0.5f;
// Side-by-side pieces this close (part of the median height) that together are no wider than a character
// (this many median heights) are one character broken across (a 4 cut through its crossbar, a 5 whose
// top bar is a separate stroke) ...
constexpr float kJoinDistance = 0.1f;
constexpr float kJoinWidth = 1.15f;  // below neck_width, or the join could be split again
constexpr float kJoinHeight = 1.5f;  // ... unless together they are this many median heights tall
// A neck, where touching characters meet, is a column with at most this part of the ink of the heaviest
// column on each side within this many heights of the piece ...
constexpr float kNeckDepth = 0.2f;
constexpr float kNeckReach = 0.25f;
// A split looks for the projection minimum within this part of a character's width around each nominal cut.
constexpr float kCutSearch = 0.35f;
// How strongly a cut prefers its nominal position: this part of the median height (in projection counts)
// at the edge of the search window.
constexpr float kCutPull = 0.25f;
// A two-part reading's cut is searched within this part of the piece's width around each nominal place.
constexpr float kTwoPartSearch = 0.1f;
// Splitting is repeated on parts still too wide (a first split may leave two characters together).
constexpr int kSplitRounds = 3;
// A part of a split with less ink than this part of the median character is a stray bit, not a character.
constexpr float kMinPartFraction = 0.15f;
// A bit of a split part smaller than this part of the part's main body may belong across the cut.
constexpr float kFragmentFraction = 0.2f;
// Crops extend beyond the box by this part of the median height, so preprocessing sees paper around the ink.
constexpr float kCropMargin = 0.3f;
// Other characters' ink is painted over together with a fringe of this part of the median height.
constexpr float kForeignFringe = 0.05f;

template <class T>
T median(std::vector<T> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

struct DisjointSets {
  std::vector<int> parent;
  explicit DisjointSets(int n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int i) { return parent[i] == i ? i : parent[i] = find(parent[i]); }
  void join(int a, int b) { parent[find(a)] = find(b); }
};

// The pixels of one connected component within columns [col0, col1] (a split cuts components).
struct Span {
  int component, col0, col1;
};

// A character candidate: the ink of some spans. Box and area follow from the owner map (settle).
struct Piece {
  std::vector<Span> spans;
  Box box;
  int64_t area = 0;
};

// Whether two pieces hold parts of one component: the sides of a cut.
bool share_component(const Piece& a, const Piece& b) {
  for (const Span& s : a.spans)
    for (const Span& t : b.spans)
      if (s.component == t.component) return true;
  return false;
}

Piece merged(const Piece& a, const Piece& b) {
  Piece m = a;
  m.spans.insert(m.spans.end(), b.spans.begin(), b.spans.end());
  int x0 = std::min(a.box.x, b.box.x), y0 = std::min(a.box.y, b.box.y);
  int x1 = std::max(a.box.x_end(), b.box.x_end()), y1 = std::max(a.box.y + a.box.height, b.box.y + b.box.height);
  m.box = {x0, y0, x1 - x0, y1 - y0};
  m.area = a.area + b.area;
  return m;
}


// One piece per group of components stacked in the same columns (dot of i/j, a stroke broken by a gap).
std::vector<Piece> group_components(const ComponentLabels& cl, const std::vector<uint8_t>& mask,
                                    const SegmentOptions& options) {
  int64_t largest = 0;
  for (const Component& c : cl.components) largest = std::max(largest, c.area);
  const float stroke = ink_stroke_width(mask, cl.width, cl.height);
  const double smallest = std::max(double(kNoiseFraction) * largest, double(kDotArea) * stroke * stroke);
  std::vector<int> kept;
  for (int i = 0; i < int(cl.components.size()); ++i)
    if (cl.components[i].area >= smallest) kept.push_back(i);
  DisjointSets sets(int(cl.components.size()));
  for (size_t a = 0; a < kept.size(); ++a)
    for (size_t b = a + 1; b < kept.size(); ++b) {
      const Component &p = cl.components[kept[a]], &q = cl.components[kept[b]];
      int overlap = std::min(p.x1, q.x1) - std::max(p.x0, q.x0) + 1;
      int vertical_gap = std::max(p.y0, q.y0) - std::min(p.y1, q.y1) - 1;  // < 0: side by side
      bool stacked = overlap > 0 && vertical_gap >= 0 &&
                     vertical_gap <= options.merge_stacked_gap * std::max(p.height(), q.height());
      if (overlap > options.merge_overlap * std::min(p.width(), q.width()) || stacked) sets.join(kept[a], kept[b]);
    }
  std::vector<Piece> pieces;
  std::vector<int> piece_of_root(cl.components.size(), -1);
  for (int i : kept) {
    int root = sets.find(i);
    if (piece_of_root[root] < 0) {
      piece_of_root[root] = int(pieces.size());
      pieces.emplace_back();
    }
    pieces[piece_of_root[root]].spans.push_back({i, cl.components[i].x0, cl.components[i].x1});
  }
  return pieces;
}

// Which piece each ink pixel belongs to (-1: none, e.g. noise or a speck).
std::vector<int> assign_pixels(const ComponentLabels& cl, const std::vector<Piece>& pieces) {
  std::vector<int> owner(cl.label.size(), -1);
  for (int k = 0; k < int(pieces.size()); ++k)
    for (const Span& s : pieces[k].spans) {
      const Component& c = cl.components[s.component];
      for (int y = c.y0; y <= c.y1; ++y)
        for (int x = std::max(c.x0, s.col0); x <= std::min(c.x1, s.col1); ++x)
          if (cl.label[size_t(y) * cl.width + x] == s.component) owner[size_t(y) * cl.width + x] = k;
    }
  return owner;
}

// Tight boxes and areas from the pixels each piece owns.
void measure(std::vector<Piece>& pieces, const std::vector<int>& owner, int width, int height) {
  std::vector<int> x0(pieces.size(), width), y0(pieces.size(), height), x1(pieces.size(), -1), y1(pieces.size(), -1);
  for (auto& p : pieces) p.area = 0;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      int k = owner[size_t(y) * width + x];
      if (k < 0) continue;
      x0[k] = std::min(x0[k], x), x1[k] = std::max(x1[k], x), y0[k] = std::min(y0[k], y), y1[k] = std::max(y1[k], y);
      ++pieces[k].area;
    }
  for (size_t k = 0; k < pieces.size(); ++k) pieces[k].box = {x0[k], y0[k], x1[k] - x0[k] + 1, y1[k] - y0[k] + 1};
}

// Pixel owners and boxes after the set of pieces changed; pieces left without pixels are removed.
void settle(std::vector<Piece>& pieces, std::vector<int>& owner, const ComponentLabels& cl) {
  owner = assign_pixels(cl, pieces);
  measure(pieces, owner, cl.width, cl.height);
  auto empty = [](const Piece& p) { return p.area == 0; };
  if (std::none_of(pieces.begin(), pieces.end(), empty)) return;
  pieces.erase(std::remove_if(pieces.begin(), pieces.end(), empty), pieces.end());
  owner = assign_pixels(cl, pieces);
  measure(pieces, owner, cl.width, cl.height);
}

// Left to right by the centres of the boxes, owners renumbered.
void sort_left_to_right(std::vector<Piece>& pieces, std::vector<int>& owner, const ComponentLabels& cl) {
  std::sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) { return a.box.x_centre() < b.box.x_centre(); });
  settle(pieces, owner, cl);
}

// Whether some ink of piece b lies within `distance` pixels of piece a's ink.
bool near_each_other(const std::vector<int>& owner, int width, int height, int a, int b, const Box& box_b, int distance) {
  for (int y = box_b.y; y < box_b.y + box_b.height; ++y)
    for (int x = box_b.x; x < box_b.x_end(); ++x) {
      if (owner[size_t(y) * width + x] != b) continue;
      for (int yy = std::max(0, y - distance); yy <= std::min(height - 1, y + distance); ++yy)
        for (int xx = std::max(0, x - distance); xx <= std::min(width - 1, x + distance); ++xx)
          if (owner[size_t(yy) * width + xx] == a) return true;
    }
  return false;
}

// How many of piece k's pixels touch (8-neighbourhood) a pixel of piece j.
int contacts(const std::vector<int>& owner, int width, int height, const Box& box_k, int k, int j) {
  int n = 0;
  for (int y = box_k.y; y < box_k.y + box_k.height; ++y)
    for (int x = box_k.x; x < box_k.x_end(); ++x) {
      if (owner[size_t(y) * width + x] != k) continue;
      bool touches = false;
      for (int yy = std::max(0, y - 1); yy <= std::min(height - 1, y + 1) && !touches; ++yy)
        for (int xx = std::max(0, x - 1); xx <= std::min(width - 1, x + 1) && !touches; ++xx)
          touches = owner[size_t(yy) * width + xx] == j;
      n += touches;
    }
  return n;
}

// Side-by-side pieces that nearly touch and together are no wider than a character: one character broken
// across its width. `pieces` must be settled (owner up to date).
std::vector<Piece> join_broken(const std::vector<Piece>& pieces, const std::vector<int>& owner, int width, int height,
                               float median_height) {
  std::vector<int> order(pieces.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return pieces[a].box.x < pieces[b].box.x; });
  DisjointSets sets(int(pieces.size()));
  const int distance = std::max(1, int(std::lround(kJoinDistance * median_height)));
  for (size_t i = 0; i < order.size(); ++i)
    for (size_t j = i + 1; j < order.size(); ++j) {
      const Piece &a = pieces[order[i]], &b = pieces[order[j]];
      if (b.box.x >= a.box.x_end() + distance) break;  // sorted by left edge: no later piece comes closer
      Piece both = merged(a, b);
      if (both.box.width <= kJoinWidth * median_height && both.box.height <= kJoinHeight * median_height &&
          near_each_other(owner, width, height, order[i], order[j], b.box, distance))
        sets.join(order[i], order[j]);
    }
  std::vector<Piece> out;
  std::vector<int> index_of_root(pieces.size(), -1);
  for (int k = 0; k < int(pieces.size()); ++k) {
    int root = sets.find(k);
    if (index_of_root[root] < 0) {
      index_of_root[root] = int(out.size());
      out.push_back(pieces[k]);
    } else {
      out[index_of_root[root]] = merged(out[index_of_root[root]], pieces[k]);
    }
  }
  return out;
}

// How much of piece k's ink each column of its box holds.
std::vector<int> column_profile(const Piece& p, int k, const std::vector<int>& owner, int width) {
  std::vector<int> profile(p.box.width, 0);
  for (int y = p.box.y; y < p.box.y + p.box.height; ++y)
    for (int x = p.box.x; x < p.box.x_end(); ++x) profile[x - p.box.x] += owner[size_t(y) * width + x] == k;
  return profile;
}

// A piece too wide for one character: round(width / expected width) parts (at least 2), each cut at the
// column with the least ink near its nominal position. Returns the last column (in the box) of each part
// but the last.
std::vector<int> cuts_by_width(const std::vector<int>& profile, float median_height, const SegmentOptions& options) {
  const int width = int(profile.size());
  const int parts = std::max(2, int(std::lround(width / (options.char_aspect * median_height))));
  const double step = double(width) / parts, window = kCutSearch * step;
  std::vector<int> cuts;
  int start = 0;  // first column of the next part
  for (int part = 1; part < parts && start < width - 1; ++part) {
    // Least ink, with a pull towards the nominal position so that a stroke far off does not win.
    double nominal = part * step, best = 1e300;
    int lo = std::max(start, int(std::ceil(nominal - window)));
    int hi = std::min(width - 2, int(std::floor(nominal + window)));
    int cut = std::min(width - 2, std::max(start, int(std::lround(nominal))));
    for (int c = lo; c <= hi; ++c) {
      double d = (c - nominal) / window, cost = profile[c] + kCutPull * median_height * d * d;
      if (cost < best) best = cost, cut = c;
    }
    cuts.push_back(cut);
    start = cut + 1;
  }
  return cuts;
}

// Where touching characters meet, a little ink joins two bodies of ink close by on either side. A neck is
// a column holding at most kNeckDepth of the ink of the heaviest column within kNeckReach piece heights
// on each side; the deepest one wins. A single wide letter has none: the thin diagonals of an M or W and
// the arches of an m span more than the reach, and their vertices hold as much ink as the strokes beside.
// Returns the neck's column in the box, or -1.
int find_neck(const std::vector<int>& profile, int height) {
  const int width = int(profile.size()), reach = std::max(2, int(std::lround(kNeckReach * height)));
  int neck = -1;
  double neck_ratio = 0;
  for (int c = 1; c + 1 < width; ++c) {
    int left = *std::max_element(profile.begin() + std::max(0, c - reach), profile.begin() + c);
    int right = *std::max_element(profile.begin() + c + 1, profile.begin() + std::min(width, c + 1 + reach));
    double ratio = double(profile[c]) / std::max(1, std::min(left, right));
    if (ratio <= kNeckDepth && (neck < 0 || ratio < neck_ratio)) neck = c, neck_ratio = ratio;
  }
  return neck;
}

// Where to cut piece k, as the last column (in the box) of each part but the last; none: one character.
// Up to neck_width median heights it is one character; up to split_width it may be one wide letter (M, W)
// or touching characters, told apart by a neck; wider, it cannot be one character.
std::vector<int> cuts_for(const Piece& p, int k, const std::vector<int>& owner, int width, float median_height,
                          const SegmentOptions& options) {
  const float widths = p.box.width / median_height;
  if (widths <= options.neck_width) return {};
  const std::vector<int> profile = column_profile(p, k, owner, width);
  if (widths > options.split_width) return cuts_by_width(profile, median_height, options);
  const int neck = find_neck(profile, p.box.height);
  if (neck < 0) return {};
  return {neck};
}

// The parts of piece p between the cuts (see cuts_for).
std::vector<Piece> cut_piece(const Piece& p, const std::vector<int>& cuts) {
  std::vector<Piece> parts;
  int start = 0;  // first column (in the box) of the next part
  for (size_t part = 0; part <= cuts.size(); ++part) {
    const int end = part < cuts.size() ? cuts[part] : p.box.width - 1;  // its last column
    Piece q;
    for (const Span& s : p.spans) {
      int c0 = std::max(s.col0, p.box.x + start), c1 = std::min(s.col1, p.box.x + end);
      if (c0 <= c1) q.spans.push_back({s.component, c0, c1});
    }
    parts.push_back(q);
    start = end + 1;
  }
  return parts;
}

// A part of a split too small to be a character rejoins the neighbouring part it touches most.
// `pieces` must be sorted left to right and settled. Returns whether anything changed.
bool rejoin_small_parts(std::vector<Piece>& pieces, const std::vector<int>& owner, int width, int height,
                        double median_area) {
  for (int k = 0; k < int(pieces.size()); ++k) {
    const Piece& p = pieces[k];
    if (p.area >= kMinPartFraction * median_area) continue;
    int best = -1, best_contacts = 0;
    for (int j : {k - 1, k + 1}) {
      if (j < 0 || j >= int(pieces.size()) || !share_component(p, pieces[j])) continue;
      int n = contacts(owner, width, height, p.box, k, j);
      if (n > best_contacts) best = j, best_contacts = n;
    }
    if (best < 0) continue;
    pieces[best] = merged(pieces[best], p);
    pieces.erase(pieces.begin() + k);
    return true;
  }
  return false;
}

// A cut through touching characters leaves bits of one on the other's side (the tail of a 2 reaching
// under the next digit). Such bits, small next to the rest of their part and touching the neighbour
// across the cut, go back to that neighbour. `pieces` must be sorted left to right and settled.
void hand_back_fragments(const std::vector<Piece>& pieces, std::vector<int>& owner, int width, int height) {
  for (int k = 0; k < int(pieces.size()); ++k) {
    const Box& b = pieces[k].box;
    std::vector<uint8_t> mine(size_t(b.width) * b.height);
    for (int y = 0; y < b.height; ++y)
      for (int x = 0; x < b.width; ++x) mine[size_t(y) * b.width + x] = owner[size_t(b.y + y) * width + b.x + x] == k;
    ComponentLabels bits = label_components(mine, b.width, b.height);
    if (bits.components.size() < 2) continue;
    int64_t largest = 0;
    for (const Component& c : bits.components) largest = std::max(largest, c.area);
    for (int i = 0; i < int(bits.components.size()); ++i) {
      const Component& c = bits.components[i];
      if (c.area >= kFragmentFraction * largest) continue;
      // The bit's own pixels, marked -2 for the contact count, then given to the neighbour it touches.
      Box bit{b.x + c.x0, b.y + c.y0, c.width(), c.height()};
      auto relabel = [&](int to) {
        for (int y = c.y0; y <= c.y1; ++y)
          for (int x = c.x0; x <= c.x1; ++x)
            if (bits.label[size_t(y) * b.width + x] == i) owner[size_t(b.y + y) * width + b.x + x] = to;
      };
      relabel(-2);
      int to = k, most = 0;
      for (int j : {k - 1, k + 1}) {
        if (j < 0 || j >= int(pieces.size()) || !share_component(pieces[k], pieces[j])) continue;
        int n = contacts(owner, width, height, bit, -2, j);
        if (n > most) to = j, most = n;
      }
      relabel(to);
    }
  }
}

// The photo around a character, with every other ink pixel (and its fringe) painted over with paper.
// mine(x, y) says whether the ink pixel at (x, y) belongs to the character.
template <typename Mine>
Image crop_character(const Image& photo, const InkMap& ink, const Mine& mine, const Box& box, int margin, int fringe) {
  int x0 = std::max(0, box.x - margin), y0 = std::max(0, box.y - margin);
  int x1 = std::min(photo.width, box.x_end() + margin), y1 = std::min(photo.height, box.y + box.height + margin);
  Image crop(x1 - x0, y1 - y0);
  std::vector<uint8_t> foreign(crop.pixels.size(), 0);
  // Scan a band wider by the fringe so that ink just outside the crop still paints its fringe inside.
  for (int y = std::max(0, y0 - fringe); y < std::min(photo.height, y1 + fringe); ++y)
    for (int x = std::max(0, x0 - fringe); x < std::min(photo.width, x1 + fringe); ++x) {
      size_t i = size_t(y) * photo.width + x;
      if (!ink.mask[i] || mine(x, y)) continue;
      for (int yy = std::max(y0, y - fringe); yy < std::min(y1, y + fringe + 1); ++yy)
        for (int xx = std::max(x0, x - fringe); xx < std::min(x1, x + fringe + 1); ++xx)
          foreign[size_t(yy - y0) * crop.width + (xx - x0)] = 1;
    }
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      size_t i = size_t(y) * photo.width + x;
      bool paint = foreign[size_t(y - y0) * crop.width + (x - x0)] && !mine(x, y);
      crop.at(x - x0, y - y0) = paint ? ink.paper[i] : photo.pixels[i];
    }
  return crop;
}

// Where to try cutting piece k in two for its two-part readings: near a third, half and two thirds of its
// width (touching characters need not be equally wide), each at the column with the least ink close by.
std::vector<int> two_part_cuts(const std::vector<int>& profile) {
  const int width = int(profile.size());
  const int reach = std::max(1, int(std::lround(kTwoPartSearch * width)));
  std::vector<int> cuts;
  for (double fraction : {1.0 / 3, 0.5, 2.0 / 3}) {
    const int nominal = int(std::lround(fraction * width));
    int cut = -1;
    for (int c = std::max(1, nominal - reach); c <= std::min(width - 2, nominal + reach); ++c)
      if (cut < 0 || profile[c] < profile[cut]) cut = c;
    if (cut >= 0 && std::find(cuts.begin(), cuts.end(), cut) == cuts.end()) cuts.push_back(cut);
  }
  return cuts;
}

// Piece k read as two characters cut after column cut_x (see CharacterSegment::two_part_readings), each
// part cropped with the other painted over. None when a part would be a stray bit of ink.
std::vector<CharacterSegment> two_part_reading(const Image& photo, const InkMap& ink, const std::vector<int>& owner,
                                               const Piece& p, int k, int cut_x, double median_area, int margin,
                                               int fringe) {
  const int w = ink.width;
  std::vector<CharacterSegment> parts;
  for (int side = 0; side < 2; ++side) {
    auto mine = [&](int x, int y) { return owner[size_t(y) * w + x] == k && (x <= cut_x) == (side == 0); };
    int x0 = w, y0 = ink.height, x1 = -1, y1 = -1;
    int64_t area = 0;
    for (int y = p.box.y; y < p.box.y + p.box.height; ++y)
      for (int x = p.box.x; x < p.box.x_end(); ++x) {
        if (!mine(x, y)) continue;
        x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
        ++area;
      }
    if (area < kMinPartFraction * median_area) return {};
    CharacterSegment c;
    c.box = {x0, y0, x1 - x0 + 1, y1 - y0 + 1};
    c.crop = crop_character(photo, ink, mine, c.box, margin, fringe);
    parts.push_back(std::move(c));
  }
  return parts;
}

// Which gaps between neighbouring characters (ink box to ink box, in pixels) are word spaces
// (SegmentOptions::space_*). Lines of one or two words of few characters leave few gaps within words, so
// the typical one comes from the gaps that are not clearly spaces, and its lower median: with as many
// spaces as other gaps the median would be a space.
std::vector<bool> word_spaces(const std::vector<int>& gaps, float median_height, const SegmentOptions& options) {
  const float clear = options.space_clear * median_height;
  std::vector<int> within;
  for (int g : gaps)
    if (g < clear) within.push_back(g);
  std::sort(within.begin(), within.end());
  const float typical = within.empty() ? 0.0f : float(within[(within.size() - 1) / 2]);
  std::vector<bool> spaces;
  for (int g : gaps) {
    const float gap = float(g);
    spaces.push_back(gap > options.space_min_height * median_height &&
                     ((gap >= clear && gap >= options.space_clear_ratio * typical) ||
                      gap > options.space_gap * std::max(1.0f, typical)));
  }
  return spaces;
}

}  // namespace

float ink_stroke_width(const std::vector<uint8_t>& mask, int width, int height) {
  std::vector<int> runs;
  auto scan = [&](int lines, int length, auto at) {
    for (int line = 0; line < lines; ++line)
      for (int i = 0, run = 0; i <= length; ++i) {
        if (i < length && at(line, i)) {
          ++run;
        } else if (run > 0) {
          runs.push_back(run);
          run = 0;
        }
      }
  };
  scan(height, width, [&](int y, int x) { return mask[size_t(y) * width + x] != 0; });
  scan(width, height, [&](int x, int y) { return mask[size_t(y) * width + x] != 0; });
  return runs.empty() ? 1.0f : float(median(runs));
}

LineSegmentation segment_line(const Image& photo, const SegmentOptions& options) {
  InkMap ink = find_ink(photo, options.ink);
  const int w = ink.width, h = ink.height;
  ComponentLabels cl = label_components(ink.mask, w, h);

  std::vector<Piece> pieces = group_components(cl, ink.mask, options);
  std::vector<int> owner;
  settle(pieces, owner, cl);
  if (pieces.empty()) fail("no ink found in image (", w, "x", h, "): no stroke reaches half the ink contrast");

  // Specks: groups with far less ink than a typical character, unless they are tall like one (a thin,
  // faint 1 or l beside bold characters has little ink too). "Typical" is the median over groups that are
  // not tiny next to the largest, so that specks outnumbering the characters cannot set it.
  int64_t largest = 0;
  for (const Piece& p : pieces) largest = std::max(largest, p.area);
  std::vector<int64_t> areas;
  std::vector<int> candidate_heights;
  for (const Piece& p : pieces)
    if (p.area >= kCandidateFraction * largest) areas.push_back(p.area), candidate_heights.push_back(p.box.height);
  const double median_area = double(median(areas));
  const int typical_height = median(candidate_heights);
  auto speck = [&](const Piece& p) {
    return p.area < options.speck_fraction * median_area && p.box.height < kSpeckHeight * typical_height;
  };
  pieces.erase(std::remove_if(pieces.begin(), pieces.end(), speck), pieces.end());
  settle(pieces, owner, cl);

  std::vector<int> heights;
  for (const Piece& p : pieces) heights.push_back(p.box.height);
  // The character height every rule below is scaled by: the median, or the height_quantile's.
  std::sort(heights.begin(), heights.end());
  const float median_height =
      float(heights[std::min(heights.size() - 1, size_t(options.height_quantile * double(heights.size())))]);
  pieces = join_broken(pieces, owner, w, h, median_height);
  settle(pieces, owner, cl);

  for (int round = 0; round < kSplitRounds; ++round) {
    std::vector<Piece> split;
    for (int k = 0; k < int(pieces.size()); ++k) {
      const std::vector<int> cuts = cuts_for(pieces[k], k, owner, w, median_height, options);
      if (cuts.empty()) {
        split.push_back(pieces[k]);
        continue;
      }
      for (Piece& part : cut_piece(pieces[k], cuts)) split.push_back(part);
    }
    if (split.size() == pieces.size()) break;
    pieces = std::move(split);
    settle(pieces, owner, cl);
  }
  // A split frees pieces that belonged together but were held apart, like the detached top bar of a 5
  // whose body touched the next digit.
  pieces = join_broken(pieces, owner, w, h, median_height);
  settle(pieces, owner, cl);
  sort_left_to_right(pieces, owner, cl);
  while (rejoin_small_parts(pieces, owner, w, h, median_area)) sort_left_to_right(pieces, owner, cl);
  hand_back_fragments(pieces, owner, w, h);
  measure(pieces, owner, w, h);  // no piece empties: each keeps its main body

  LineSegmentation line;
  line.polarity = ink.dark_on_light ? InkPolarity::DarkOnLight : InkPolarity::LightOnDark;
  std::vector<int> gaps;
  for (size_t k = 1; k < pieces.size(); ++k) gaps.push_back(pieces[k].box.x - pieces[k - 1].box.x_end());
  const std::vector<bool> spaces = word_spaces(gaps, median_height, options);
  const int margin = std::max(2, int(std::lround(kCropMargin * median_height)));
  const int fringe = std::max(1, int(std::lround(kForeignFringe * median_height)));
  for (int k = 0; k < int(pieces.size()); ++k) {
    CharacterSegment c;
    c.box = pieces[k].box;
    c.crop = crop_character(photo, ink, [&](int x, int y) { return owner[size_t(y) * w + x] == k; }, c.box, margin,
                            fringe);
    if (c.box.width > options.alternative_width * median_height)
      for (int cut : two_part_cuts(column_profile(pieces[k], k, owner, w))) {
        std::vector<CharacterSegment> parts =
            two_part_reading(photo, ink, owner, pieces[k], k, c.box.x + cut, median_area, margin, fringe);
        if (!parts.empty()) c.two_part_readings.push_back(std::move(parts));
      }
    if (k > 0) c.space_before = spaces[size_t(k - 1)];
    line.characters.push_back(std::move(c));
  }
  return line;
}

}  // namespace quill
