// The tokenizer.json BPE tokenizer: exact parity with HF tokenizers on the
// references made by tests/reference/make_tokenizer_reference.py, and clear
// errors for bad or unsupported files.
#include <fstream>
#include <nlohmann/json.hpp>

#include "catch.h"
#include "data/normalizer.h"
#include "data/regex.h"
#include "data/tokenizer.h"
#include "temp_dir.h"
#include "unit/tokenizer_references.h"

using hybridize::data::Tokenizer;
using hybridize::testing::TempDir;
using hybridize::testing::tokenizer_reference_dir;
using hybridize::testing::write_text;
using nlohmann::json;

namespace {

json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  REQUIRE(in);
  return json::parse(in);
}

// Shows a string with its bytes escaped, so that a mismatch on white space or
// invisible code points can be read.
std::string shown(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7F && c != '\\' && c != '"') {
      out += c;
    } else {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02X", byte);
      out += buffer;
    }
  }
  return out + "\"";
}

std::string shown(const std::vector<int32_t>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out + "]";
}

// Compares every case and stops at the first mismatch, naming the string.
void check_parity(const std::string& name) {
  const auto dir = tokenizer_reference_dir() / name;
  const Tokenizer tokenizer(dir / "tokenizer.json");
  const json reference = read_json(dir / "reference.json");
  INFO("tokenizer " << name);
  CHECK(tokenizer.vocab_size() == reference.at("vocab_size").get<int32_t>());
  for (const auto& entry : reference.at("tokens")) {
    const auto token = entry.at("token").get<std::string>();
    const auto id = entry.at("id").get<int32_t>();
    INFO("token " << shown(token));
    REQUIRE(tokenizer.token_to_id(token) == id);
    REQUIRE(tokenizer.id_to_token(id) == token);
  }

  size_t checked = 0;
  for (const auto& c : reference.at("cases")) {
    const auto text = c.at("text").get<std::string>();
    const auto ids = c.at("ids").get<std::vector<int32_t>>();
    const auto ids_special = c.at("ids_special").get<std::vector<int32_t>>();
    INFO("text " << shown(text));
    const auto got = tokenizer.encode(text, false);
    INFO("add_special_tokens=false: HF " << shown(ids) << " ours " << shown(got));
    REQUIRE(got == ids);
    const auto got_special = tokenizer.encode(text, true);
    INFO("add_special_tokens=true: HF " << shown(ids_special) << " ours " << shown(got_special));
    REQUIRE(got_special == ids_special);
    const auto decoded = tokenizer.decode(ids_special, false);
    INFO("decode: HF " << shown(c.at("decoded").get<std::string>()) << " ours " << shown(decoded));
    REQUIRE(decoded == c.at("decoded").get<std::string>());
    const auto decoded_skip = tokenizer.decode(ids_special, true);
    INFO("decode skipping special tokens: HF " << shown(c.at("decoded_skip").get<std::string>()) << " ours "
                                               << shown(decoded_skip));
    REQUIRE(decoded_skip == c.at("decoded_skip").get<std::string>());
    ++checked;
  }
  for (const auto& c : reference.at("decode_cases")) {
    const auto ids = c.at("ids").get<std::vector<int32_t>>();
    const auto decoded = tokenizer.decode(ids, c.at("skip").get<bool>());
    INFO("decode " << shown(ids) << " skip=" << c.at("skip") << ": HF " << shown(c.at("text").get<std::string>())
                   << " ours " << shown(decoded));
    REQUIRE(decoded == c.at("text").get<std::string>());
  }
  CHECK(checked > 2000);
}

// A tiny valid tokenizer.json that each bad-input test breaks in one place.
json minimal() {
  return json::parse(R"({
    "version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
    "post_processor": null,
    "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
    "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
              "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
              "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3}, "merges": [["a", "b"]]}})");
}

void load(const json& j) {
  TempDir dir;
  write_text(dir / "tokenizer.json", j.dump());
  Tokenizer tokenizer(dir / "tokenizer.json");
}

}  // namespace

TEST_CASE("tokenizer parity with HF: Llama 3 style (Split regex, ignore_merges, BOS template)", "[data][tokenizer]") {
  check_parity("llama3");
}

TEST_CASE("tokenizer parity with HF: merges in the legacy \"a b\" form", "[data][tokenizer]") {
  check_parity("llama3_legacy_merges");
}

TEST_CASE("tokenizer parity with HF: GPT-2 style (ByteLevel regex, prefix space, EOS template)", "[data][tokenizer]") {
  check_parity("gpt2");
}

TEST_CASE("tokenizer parity with HF: Qwen2 style (NFC normalizer)", "[data][tokenizer]") {
  if (hybridize::data::Normalizer::nfc_available()) {
    check_parity("qwen2");
  } else {
    REQUIRE_ERROR(Tokenizer(tokenizer_reference_dir() / "qwen2" / "tokenizer.json"), "NFC needs ICU");
  }
}

TEST_CASE("tokenizer parity with HF: Tekken style (Mistral-Nemo's split regex: case classes, marks)",
          "[data][tokenizer]") {
  check_parity("tekken");
}

TEST_CASE("tokenizer parity with HF: SentencePiece style (Prepend/Replace normalizers, byte fallback, <unk>)",
          "[data][tokenizer]") {
  check_parity("sentencepiece");
}

TEST_CASE("tokenizer parity with HF: SentencePiece style with a Metaspace pre-tokenizer and decoder",
          "[data][tokenizer]") {
  check_parity("metaspace");
}

TEST_CASE("split regexes use HF's Unicode classes, not the machine's PCRE2 tables", "[data][tokenizer]") {
  using Matches = std::vector<std::pair<size_t, size_t>>;
  using hybridize::data::Regex;
  // U+1E030 (Unicode 15) is a letter and U+10D40 (Unicode 16) a digit to HF's engine; U+180E is not white space.
  CHECK(Regex(R"(\p{L}+)", "test").find_all("a\U0001E030b") == Matches{{0, 6}});
  CHECK(Regex(R"(\p{N})", "test").find_all("x\U00010D40") == Matches{{1, 5}});
  CHECK(Regex(R"(\s)", "test").find_all("a\u180E b") == Matches{{4, 5}});
  CHECK(Regex(R"(\S+)", "test").find_all("a\u180E b") == Matches{{0, 4}, {5, 6}});
  // Inside classes, negated classes, \pX without braces; a class the tables lack stays PCRE2's.
  CHECK(Regex(R"([^\s\p{L}\pN]+)", "test").find_all("ab, 12;!") == Matches{{2, 3}, {6, 8}});
  CHECK(Regex(R"(\P{L}+)", "test").find_all("ab12cd") == Matches{{2, 4}});
  CHECK(Regex(R"(\p{Han}+)", "test").find_all("a\u4F60\u597D") == Matches{{1, 7}});
  REQUIRE_ERROR(Regex(R"([\S])", "test pattern"),
                "test pattern: a negated class escape (\\P, \\S) inside [...] is not supported");
}

TEST_CASE("tokenizer: BOS/EOS from the template, vocabulary lookups", "[data][tokenizer]") {
  const Tokenizer llama(tokenizer_reference_dir() / "llama3" / "tokenizer.json");
  CHECK(llama.bos_id() == llama.token_to_id("<|begin_of_text|>"));
  CHECK_FALSE(llama.eos_id());
  CHECK(llama.encode("hi", true).front() == *llama.bos_id());
  const Tokenizer gpt2(tokenizer_reference_dir() / "gpt2" / "tokenizer.json");
  CHECK_FALSE(gpt2.bos_id());
  CHECK(gpt2.eos_id() == gpt2.token_to_id("<|endoftext|>"));
  CHECK_FALSE(gpt2.token_to_id("no such token"));
  CHECK_FALSE(gpt2.id_to_token(-1));
  CHECK_FALSE(gpt2.id_to_token(gpt2.vocab_size()));
}

TEST_CASE("tokenizer: added token ids are assigned as HF does, not taken from the file", "[data][tokenizer]") {
  auto j = minimal();
  j["added_tokens"] = {{{"id", 0}, {"content", "a"}, {"special", true}},     // in the vocabulary: its id there
                       {{"id", 90}, {"content", "<x>"}, {"special", true}},  // next after the 4 entries
                       {{"id", 91}, {"content", "<y>"}, {"special", false}}};
  TempDir dir;
  write_text(dir / "tokenizer.json", j.dump());
  const Tokenizer tokenizer(dir / "tokenizer.json");
  CHECK(tokenizer.token_to_id("<x>") == 4);
  CHECK(tokenizer.token_to_id("<y>") == 5);
  CHECK(tokenizer.encode("<y>ab<x>", false) == std::vector<int32_t>{5, 0, 1, 4});  // "a" is cut out as a token
  CHECK(tokenizer.decode({5, 0, 1, 4}, true) == "<y>b");
}

TEST_CASE("tokenizer: text that is not valid UTF-8 is refused with its byte offset", "[data][tokenizer]") {
  const Tokenizer tokenizer(tokenizer_reference_dir() / "gpt2" / "tokenizer.json");
  REQUIRE_ERROR(tokenizer.encode("ok \xC3", false), "not valid UTF-8 (ill-formed sequence at byte 3)");
  REQUIRE_ERROR(tokenizer.encode("\xED\xA0\x80", false), "at byte 0");  // a surrogate
  REQUIRE_ERROR(tokenizer.encode("a\xC0\xAF", false), "at byte 1");     // overlong
}

TEST_CASE("tokenizer: bad or unsupported files give one line naming file and key", "[data][tokenizer]") {
  TempDir dir;
  REQUIRE_ERROR(Tokenizer(dir / "missing.json"), "missing.json: no such file");
  write_text(dir / "broken.json", "{\"model\": ");
  REQUIRE_ERROR(Tokenizer(dir / "broken.json"), "broken.json: not valid JSON");

  load(minimal());  // the base case loads

  auto j = minimal();
  j["model"]["type"] = "WordPiece";
  REQUIRE_ERROR(load(j), "tokenizer.json: key 'model.type': 'WordPiece' is not supported");
  j["model"]["type"] = "Unigram";
  REQUIRE_ERROR(load(j), "key 'model.type': 'Unigram' is not supported");

  j = minimal();
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  REQUIRE_ERROR(load(j), "key 'pre_tokenizer.type': 'Whitespace' is not supported");
  j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {{{"type", "ByteLevel"}}, {{"type", "Digits"}}}}};
  REQUIRE_ERROR(load(j), "key 'pre_tokenizer.pretokenizers[0]': ByteLevel must be the last");
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}},
                          {{"type", "ByteLevel"}}}}};
  REQUIRE_ERROR(load(j), "key 'pre_tokenizer.pretokenizers[0].pattern.Regex': regex does not compile");
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {{"Regex", "\\s+"}};
  j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed";
  REQUIRE_ERROR(load(j), "key 'pre_tokenizer.pretokenizers[0].behavior': only \"Isolated\"");
  j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Isolated";
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {{"String", " "}};
  REQUIRE_ERROR(load(j), "key 'pre_tokenizer.pretokenizers[0].pattern': only {\"Regex\"");
  j["pre_tokenizer"] = nullptr;  // SentencePiece-style then, which a ByteLevel decoder does not fit
  REQUIRE_ERROR(load(j),
                "key 'decoder': ByteLevel decodes byte-level BPE, but the pre-tokenizer has no ByteLevel step");
  j["decoder"] = {{"type", "Sequence"}, {"decoders", {{{"type", "CTC"}}}}};
  REQUIRE_ERROR(load(j), "key 'decoder.decoders[0].type': 'CTC' is not supported");

  j = minimal();
  j["model"]["merges"].push_back({"a", "zz"});
  REQUIRE_ERROR(load(j), "key 'model.merges' entry 1: token 'zz' is not in model.vocab");
  j = minimal();
  j["model"]["merges"] = {"b a"};  // "ba" is not in the vocabulary either
  REQUIRE_ERROR(load(j), "key 'model.merges' entry 0: token 'ba' is not in model.vocab");
  j["model"]["merges"] = {"a b c"};
  REQUIRE_ERROR(load(j), "key 'model.merges' entry 0: a string merge must be two tokens");

  j = minimal();
  j["model"]["byte_fallback"] = true;
  REQUIRE_ERROR(load(j), "key 'model.byte_fallback': true is not supported with a ByteLevel pre-tokenizer");
  j = minimal();
  j["model"]["unk_token"] = "<unk>";
  REQUIRE_ERROR(load(j), "key 'model.unk_token': '<unk>' is not in model.vocab");
  j = minimal();
  j["normalizer"] = {{"type", "Lowercase"}};
  REQUIRE_ERROR(load(j), "key 'normalizer.type': 'Lowercase' is not supported");
  j = minimal();
  j["decoder"] = {{"type", "Metaspace"}};
  REQUIRE_ERROR(load(j), "key 'decoder': a ByteLevel pre-tokenizer needs a ByteLevel decoder");
  j = minimal();
  j["normalizer"] = {{"type", "Replace"}, {"pattern", {{"Regex", " +"}}}, {"content", " "}};
  REQUIRE_ERROR(load(j), "key 'normalizer.pattern': only {\"String\": \"...\"} patterns are supported");
  j = minimal();
  j["post_processor"] = {{"type", "BertProcessing"}};
  REQUIRE_ERROR(load(j), "key 'post_processor.type': 'BertProcessing' is not supported");
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"special_tokens", json::object()}};
  REQUIRE_ERROR(load(j), "key 'post_processor.special_tokens': '<s>' is used in the template but has no ids");
  j = minimal();
  j["truncation"] = {{"max_length", 8}};
  REQUIRE_ERROR(load(j), "key 'truncation': must be null");
  j = minimal();
  j["added_tokens"] = {{{"id", "x"}, {"content", "<s>"}}};
  REQUIRE_ERROR(load(j), "key 'added_tokens[0]': needs a non-negative integer \"id\"");
}
