#pragma once
// Escaping of user data (model names, paths, configs) for the two places the
// report puts it: HTML text and attributes, and JSON inside a <script> element.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace hybridize::reports {

// Escapes & < > " ' so the text is safe in element content and in quoted attributes.
std::string escape_html(std::string_view text);

// Serialises `value` for a <script type="application/json"> element: no '<',
// '>' or '&' survives literally (so "</script>" or "<!--" cannot end or
// change the element), non-ASCII is \u-escaped and invalid UTF-8 replaced.
std::string json_for_script(const nlohmann::json& value);

}  // namespace hybridize::reports
