#include "io/safetensors.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"

namespace hybridize::io {

namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  std::size_t size;
};

constexpr std::array<DTypeInfo, 15> kDTypes{{
    {DType::BOOL, "BOOL", 1},
    {DType::U8, "U8", 1},
    {DType::I8, "I8", 1},
    {DType::I16, "I16", 2},
    {DType::U16, "U16", 2},
    {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},
    {DType::I32, "I32", 4},
    {DType::U32, "U32", 4},
    {DType::F32, "F32", 4},
    {DType::F64, "F64", 8},
    {DType::I64, "I64", 8},
    {DType::U64, "U64", 8},
    {DType::F8_E4M3, "F8_E4M3", 1},
    {DType::F8_E5M2, "F8_E5M2", 1},
}};

const DTypeInfo& info(DType dtype) {
  for (const auto& entry : kDTypes)
    if (entry.dtype == dtype) return entry;
  fail("unknown dtype enum value ", static_cast<int>(dtype));
}

// The format's own limit on the header (the reference implementation refuses more).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

uint64_t read_le64(const std::byte* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<uint8_t>(p[i]);
  return value;
}

// numel * element size, refusing negative dimensions and overflow.
uint64_t byte_size(const std::vector<int64_t>& shape, std::size_t element_size, const std::string& where) {
  uint64_t total = element_size;
  for (int64_t dim : shape) {
    if (dim < 0) fail(where, ": negative dimension ", dim);
    if (__builtin_mul_overflow(total, static_cast<uint64_t>(dim), &total)) fail(where, ": shape overflows 64 bits");
  }
  return total;
}

uint64_t json_offset(const nlohmann::json& value, const std::string& where) {
  if (!value.is_number_unsigned()) fail(where, ": data_offsets must be non-negative integers");
  return value.get<uint64_t>();
}

TensorEntry parse_entry(const std::string& name, const nlohmann::json& value, const std::string& where) {
  if (!value.is_object()) fail(where, ": header entry is not an object");
  TensorEntry entry;
  entry.name = name;
  const auto dtype_it = value.find("dtype");
  if (dtype_it == value.end() || !dtype_it->is_string()) fail(where, ": missing dtype");
  const auto dtype = parse_dtype(dtype_it->get<std::string>());
  if (!dtype) fail(where, ": unknown dtype '", dtype_it->get<std::string>(), "'");
  entry.dtype = *dtype;
  const auto shape_it = value.find("shape");
  if (shape_it == value.end() || !shape_it->is_array()) fail(where, ": missing shape");
  for (const auto& dim : *shape_it) {
    if (!dim.is_number_integer()) fail(where, ": shape must hold integers");
    entry.shape.push_back(dim.get<int64_t>());
  }
  const auto offsets_it = value.find("data_offsets");
  if (offsets_it == value.end() || !offsets_it->is_array() || offsets_it->size() != 2)
    fail(where, ": data_offsets must be [begin, end]");
  entry.begin = json_offset((*offsets_it)[0], where);
  entry.end = json_offset((*offsets_it)[1], where);
  if (entry.end < entry.begin) fail(where, ": data_offsets end ", entry.end, " before begin ", entry.begin);
  const uint64_t expected = byte_size(entry.shape, dtype_size(entry.dtype), where);
  if (entry.end - entry.begin != expected)
    fail(where, ": ", dtype_name(entry.dtype), " ", entry.shape_string(), " needs ", expected,
         " bytes but data_offsets span ", entry.end - entry.begin);
  return entry;
}

}  // namespace

std::size_t dtype_size(DType dtype) { return info(dtype).size; }
std::string_view dtype_name(DType dtype) { return info(dtype).name; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& entry : kDTypes)
    if (entry.name == name) return entry.dtype;
  return std::nullopt;
}

int64_t TensorEntry::numel() const {
  int64_t n = 1;
  for (int64_t dim : shape) n *= dim;
  return n;
}

std::string TensorEntry::shape_string() const {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::shared_ptr<const SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  return std::make_shared<const SafetensorsFile>(path);
}

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : file_(path) {
  const std::string where = path.string();
  const auto bytes = file_.bytes();
  if (bytes.size() < 8) fail(where, ": truncated safetensors file (", bytes.size(), " bytes, no header length)");
  const uint64_t header_size = read_le64(bytes.data());
  if (header_size > kMaxHeaderBytes) fail(where, ": header length ", header_size, " exceeds the 100 MB limit");
  if (header_size > bytes.size() - 8)
    fail(where, ": header length ", header_size, " runs past the end of the file (", bytes.size(), " bytes)");
  data_start_ = 8 + header_size;
  const char* header_begin = reinterpret_cast<const char*>(bytes.data() + 8);
  if (header_size == 0 || header_begin[0] != '{') fail(where, ": header is not a JSON object");

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_begin, header_begin + header_size);
  } catch (const nlohmann::json::parse_error& error) {
    fail(where, ": header is not valid JSON (", error.what(), ")");
  }
  if (!header.is_object()) fail(where, ": header is not a JSON object");

  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) fail(where, ": __metadata__ is not an object");
      for (const auto& [key, text] : value.items()) {
        if (!text.is_string()) fail(where, ": __metadata__ value for '", key, "' is not a string");
        metadata_[key] = text.get<std::string>();
      }
      continue;
    }
    entries_.push_back(parse_entry(name, value, where + ": tensor '" + name + "'"));
  }

  const uint64_t data_size = bytes.size() - data_start_;
  std::sort(entries_.begin(), entries_.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const TensorEntry* furthest = nullptr;  // the entry reaching furthest so far
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const auto& entry = entries_[i];
    if (entry.end > data_size)
      fail(where, ": tensor '", entry.name, "' data_offsets [", entry.begin, ", ", entry.end,
           "] run past the end of the data section (", data_size, " bytes; file truncated?)");
    if (entry.begin == entry.end) {
      by_name_.emplace(entry.name, i);
      continue;  // empty tensors occupy no bytes
    }
    if (furthest != nullptr && entry.begin < furthest->end)
      fail(where, ": tensor '", entry.name, "' overlaps tensor '", furthest->name, "'");
    furthest = &entry;
    by_name_.emplace(entry.name, i);
  }
}

const TensorEntry* SafetensorsFile::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

const TensorEntry& SafetensorsFile::entry(std::string_view name) const {
  const TensorEntry* found = find(name);
  if (found == nullptr) fail(path().string(), ": no tensor '", name, "'");
  return *found;
}

std::span<const std::byte> SafetensorsFile::bytes(const TensorEntry& entry) const {
  return file_.bytes().subspan(data_start_ + entry.begin, entry.end - entry.begin);
}

void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& tensor : tensors) {
    const std::string where = path.string() + ": tensor '" + tensor.name + "'";
    if (tensor.name == "__metadata__" || !seen.insert(tensor.name).second) fail(where, ": duplicate or reserved name");
    const uint64_t size = byte_size(tensor.shape, dtype_size(tensor.dtype), where);
    if (size != tensor.data.size())
      fail(where, ": shape needs ", size, " bytes but ", tensor.data.size(), " were given");
    header[tensor.name] = {
        {"dtype", dtype_name(tensor.dtype)}, {"shape", tensor.shape}, {"data_offsets", {offset, offset + size}}};
    offset += size;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keep the data section 8-byte aligned
  std::array<unsigned char, 8> length{};
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(uint64_t(text.size()) >> (8 * i));

  AtomicFileWriter writer(path);
  writer.write(length.data(), length.size());
  writer.write(text);
  for (const auto& tensor : tensors) writer.write(tensor.data.data(), tensor.data.size());
  writer.commit();
}

}  // namespace hybridize::io
