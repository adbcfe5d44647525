#include "search/calibration.h"

#include <cstdio>

namespace hybridize::search {

void store_device_rates(store::ResultsStore& results, const infer::DeviceRates& measured, const std::string& dtype) {
  store::HardwareRatesRecord record;
  record.device = measured.device_name;
  record.dtype = dtype;
  record.bytes_per_second = measured.copy_bytes_per_second;
  record.flops_per_second = measured.matmul_flops_per_second;
  record.memory_bytes = measured.memory_bytes;
  results.save_hardware_rates(record);
}

HardwareRates rates_from(const store::HardwareRatesRecord& record) {
  HardwareRates rates;
  char name[256];
  std::snprintf(name, sizeof name, "%s as measured by `hybridize bench` at %s (%.0f GB/s copy, %.0f TFLOP/s %s matmul)",
                record.device.c_str(), record.created_at.c_str(), record.bytes_per_second / 1e9,
                record.flops_per_second / 1e12, record.dtype.c_str());
  rates.name = name;
  rates.bytes_per_second = record.bytes_per_second;
  rates.flops_per_second = record.flops_per_second;
  if (record.memory_bytes > 0) rates.memory_bytes = record.memory_bytes;
  return rates;
}

std::optional<HardwareRates> stored_rates(store::ResultsStore& results) {
  const auto record = results.latest_hardware_rates();
  if (!record) return std::nullopt;
  return rates_from(*record);
}

}  // namespace hybridize::search
