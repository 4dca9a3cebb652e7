#pragma once
// Which classes a reading may use (`read --charset`): a postcode is digits, a name field letters. Classes
// outside the set get probability zero and the rest are renormalised, so the network's second choice
// within the set wins where its first is outside.
#include <string>
#include <vector>

namespace quill {

// The classes a charset allows, as one flag per class of `classes`. spec is digits, letters, upper,
// lower, alnum (everything), or an explicit list of the characters allowed ("0123456789ABCDEF").
// Throws quill::Error when spec names a character that is not one of the classes, or allows none.
std::vector<bool> charset_mask(const std::string& spec, const std::vector<std::string>& classes);

// p restricted to the allowed classes and renormalised (unchanged when mask is empty).
void restrict_to_charset(std::vector<double>& p, const std::vector<bool>& mask);

}  // namespace quill
