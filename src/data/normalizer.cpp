#include "data/normalizer.h"

#include "core/error.h"
#include "core/format.h"
#include "data/tokenizer_json.h"

#ifdef HYBRIDIZE_HAVE_ICU
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>
#endif

namespace hybridize::data {

namespace {

std::string nfc(const std::string& text) {
#ifdef HYBRIDIZE_HAVE_ICU
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status)) fail("NFC normalization: ICU has no NFC data (", u_errorName(status), ")");
  const icu::UnicodeString normalized = normalizer->normalize(icu::UnicodeString::fromUTF8(text), status);
  if (U_FAILURE(status)) fail("NFC normalization failed: ", u_errorName(status));
  std::string out;
  return normalized.toUTF8String(out);
#else
  return text;
#endif
}

}  // namespace

bool Normalizer::nfc_available() {
#ifdef HYBRIDIZE_HAVE_ICU
  return true;
#else
  return false;
#endif
}

Normalizer::Normalizer(const nlohmann::json& json, const std::string& source) {
  if (json.is_null()) return;
  for (const auto& [step, key] : component_steps(json, "normalizer", "normalizers", source)) {
    const std::string type = step_type(step, key, source);
    if (type == "NFC") {
      if (!nfc_available()) fail(source, ": key '", key, ".type': NFC needs ICU, which this build of hybridize lacks");
      steps_.push_back({Kind::Nfc, "", ""});
    } else if (type == "Prepend") {
      steps_.push_back({Kind::Prepend, "", string_member(step, "prepend", key, source)});
    } else if (type == "Replace") {
      steps_.push_back({Kind::Replace, string_pattern(step, key, source), string_member(step, "content", key, source)});
    } else {
      fail(source, ": key '", key, ".type': '", type,
           "' is not supported (supported: null, NFC, Prepend, Replace of a string, Sequence of them)");
    }
  }
}

std::string Normalizer::apply(const std::string& text) const {
  std::string out = text;
  for (const auto& step : steps_) {
    switch (step.kind) {
      case Kind::Nfc:
        out = nfc(out);
        break;
      case Kind::Prepend:
        if (!out.empty()) out.insert(0, step.content);
        break;
      case Kind::Replace:
        out = replace_all(out, step.pattern, step.content);
        break;
    }
  }
  return out;
}

std::string Normalizer::prepended() const {
  for (const auto& step : steps_)
    if (step.kind == Kind::Prepend) return step.content;
  return "";
}

}  // namespace hybridize::data
