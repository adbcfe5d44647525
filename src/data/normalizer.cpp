#include "data/normalizer.h"

#include "core/error.h"

#ifdef HYBRIDIZE_HAVE_ICU
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>
#endif

namespace hybridize::data {

bool Normalizer::nfc_available() {
#ifdef HYBRIDIZE_HAVE_ICU
  return true;
#else
  return false;
#endif
}

Normalizer::Normalizer(const nlohmann::json& json, const std::string& source) {
  if (json.is_null()) return;
  const std::string type = json.is_object() && json.contains("type") && json.at("type").is_string()
                               ? json.at("type").get<std::string>()
                               : json.dump();
  if (type != "NFC") fail(source, ": key 'normalizer.type': '", type, "' is not supported (supported: null, NFC)");
  if (!nfc_available()) fail(source, ": key 'normalizer.type': NFC needs ICU, which this build of hybridize lacks");
  nfc_ = true;
}

std::string Normalizer::apply(const std::string& text) const {
  if (!nfc_) return text;
#ifdef HYBRIDIZE_HAVE_ICU
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status)) fail("NFC normalization: ICU has no NFC data (", u_errorName(status), ")");
  const icu::UnicodeString normalized = nfc->normalize(icu::UnicodeString::fromUTF8(text), status);
  if (U_FAILURE(status)) fail("NFC normalization failed: ", u_errorName(status));
  std::string out;
  return normalized.toUTF8String(out);
#else
  return text;
#endif
}

}  // namespace hybridize::data
