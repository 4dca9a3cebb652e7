#pragma once
// A 5x7 bitmap font (printable ASCII) for the labels drawn into report images.
#include <array>
#include <cstdint>

namespace quill {

constexpr int kGlyphWidth = 5, kGlyphHeight = 7;

// One glyph: row r's bit (4 - x) is pixel (x, r). Characters without a glyph get a hollow box.
using Glyph = std::array<uint8_t, kGlyphHeight>;
Glyph glyph(char c);

}  // namespace quill
